"""Errors the application raises besides the domain's own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID


class ApplicationError(Exception):
    """Base of the application's errors; ``rule`` names what was refused."""

    rule = "application_error"

    @property
    def message(self) -> str:
        return str(self.args[0])


class NotFound(ApplicationError):
    """No aggregate of the asked-for kind has that id."""

    rule = "not_found"

    def __init__(self, kind: str, aggregate_id: UUID | str) -> None:
        super().__init__(f"no {kind} {aggregate_id}")
        self.kind = kind
        self.aggregate_id = aggregate_id


class StaleVersion(ApplicationError):
    """The command was based on a version that is no longer the current one."""

    rule = "stale_version"

    def __init__(self, kind: str, aggregate_id: UUID, expected: int, actual: int) -> None:
        super().__init__(
            f"{kind} {aggregate_id} is at version {actual}, the command was based on "
            f"version {expected}; reload and try again"
        )
        self.expected = expected
        self.actual = actual


class ConcurrencyConflict(ApplicationError):
    """Another write to the same aggregate committed first; nothing was saved."""

    rule = "concurrent_write"


class SignatureRejected(ApplicationError):
    """The password given to sign did not match the signer's."""

    rule = "signature_rejected"


class AccountLocked(ApplicationError):
    """Too many wrong passwords in a row: the account takes none until ``until``."""

    rule = "account_locked"

    def __init__(self, user_id: str, until: datetime, retry_after: int) -> None:
        super().__init__(
            f"too many wrong passwords for {user_id}: the account is locked until "
            f"{until.isoformat(timespec='seconds')}; try again then, or ask an operator "
            "to unlock it (rectify users unlock)"
        )
        self.user_id = user_id
        self.until = until
        self.retry_after = retry_after


class TooManyLoginAttempts(ApplicationError):
    """Too many password attempts from one client address: none is checked for a while."""

    rule = "too_many_login_attempts"

    def __init__(self, address: str, limit: str, retry_after: int) -> None:
        super().__init__(
            f"too many password attempts from {address} (at most {limit}); "
            f"try again in {retry_after} s"
        )
        self.address = address
        self.retry_after = retry_after


class PasswordChecksBusy(ApplicationError):
    """Every password check this process may run at once is taken; try again shortly.

    Nothing was checked, counted against the account or recorded.
    """

    rule = "password_checks_busy"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "the server is checking as many passwords as it can at once; "
            f"nothing was checked, try again in {retry_after} s"
        )
        self.retry_after = retry_after
