"""Domain errors. Each names the rule it protects, so a caller can show why."""

from __future__ import annotations


class DomainError(Exception):
    """A command the domain refuses. Nothing is recorded when it is raised.

    ``rule`` is a stable machine-readable name of the rule; the message says it
    in words a person understands.
    """

    rule: str = "domain_rule"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        if rule is not None:
            self.rule = rule

    @property
    def message(self) -> str:
        return str(self.args[0])


class IllegalTransition(DomainError):
    """The command is not allowed in the aggregate's current state."""

    rule = "illegal_transition"


class InvalidCommand(DomainError):
    """The command's values break a rule (missing reason, unknown item, bad date)."""

    rule = "invalid_command"


class NotPermitted(DomainError):
    """The actor's role, or their relation to the case, does not allow the command."""

    rule = "not_permitted"
