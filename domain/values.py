"""Value objects shared by the aggregates. Frozen, validated on construction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from domain.errors import InvalidCommand

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Role(StrEnum):
    """What a person may do (see the role table of the product)."""

    INSPECTOR = "inspector"  # 检查员
    RESPONSIBLE_PARTY = "responsible_party"  # 整改责任人
    SUPERVISOR = "supervisor"  # 负责人
    AUDITOR = "auditor"  # 审计员
    SYSTEM = "system"  # the service itself, e.g. the overdue check
    INTEGRATION = "integration"  # another system's service account: reads the feed only


class Severity(StrEnum):
    """Hazard grade: 一般 (general) or 重大 (major)."""

    GENERAL = "general"
    MAJOR = "major"


def require_text(value: str | None, what: str, *, max_length: int = 4000) -> str:
    """Return ``value`` stripped, or raise naming ``what`` when it is empty or too long."""
    text = (value or "").strip()
    if not text:
        raise InvalidCommand(f"{what} is required", rule=f"{_slug(what)}_required")
    if len(text) > max_length:
        raise InvalidCommand(
            f"{what} is longer than {max_length} characters", rule=f"{_slug(what)}_too_long"
        )
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class Actor:
    """Who did something: a user id, a display name and the role they acted in."""

    user_id: str
    name: str
    role: Role

    def __post_init__(self) -> None:
        require_text(self.user_id, "actor user id", max_length=200)
        require_text(self.name, "actor name", max_length=200)
        object.__setattr__(self, "role", Role(self.role))

    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    def may_inspect(self) -> bool:
        """Inspectors and supervisors (who may do everything an inspector may)."""
        return self.role in (Role.INSPECTOR, Role.SUPERVISOR)


SYSTEM_ACTOR = Actor(user_id="system", name="系统 system", role=Role.SYSTEM)


@dataclass(frozen=True)
class Evidence:
    """A photo or document, stored elsewhere by its SHA-256; the event keeps only this."""

    sha256: str
    name: str
    media_type: str
    size: int

    def __post_init__(self) -> None:
        if not _SHA256.match(self.sha256 or ""):
            raise InvalidCommand(
                "evidence sha256 must be 64 lowercase hex digits", rule="evidence_hash_invalid"
            )
        require_text(self.name, "evidence name", max_length=255)
        require_text(self.media_type, "evidence media type", max_length=100)
        if not isinstance(self.size, int) or self.size < 0:
            raise InvalidCommand("evidence size must be a non-negative integer")


@dataclass(frozen=True)
class Signature:
    """An electronic signature (21 CFR Part 11 §11.50): who signed, when, and what it means."""

    signer_id: str
    signer_name: str
    meaning: str
    signed_at: datetime

    def __post_init__(self) -> None:
        require_text(self.signer_id, "signer id", max_length=200)
        require_text(self.signer_name, "signer name", max_length=200)
        require_text(self.meaning, "signature meaning", max_length=200)
        if self.signed_at.tzinfo is None:
            raise InvalidCommand("signature time must carry a time zone")


class SignatureMeaning:
    """The fixed meanings of the signatures the product asks for."""

    CLOSED_AS_RECTIFIED = "closed as rectified 整改完成，准予销号"
    EXTENSION_GRANTED = "extension granted 同意延期"


@dataclass(frozen=True)
class ResponsibleParty:
    """Who must put the hazard right (整改责任人); may be linked to a user account."""

    name: str
    contact: str
    user_id: str | None = None

    def __post_init__(self) -> None:
        require_text(self.name, "responsible party name", max_length=200)
        require_text(self.contact, "responsible party contact", max_length=200)
        if self.user_id is not None:
            require_text(self.user_id, "responsible party user id", max_length=200)

    def is_account(self, user_id: str) -> bool:
        """Whether ``user_id`` is the account this party is linked to (never, unlinked)."""
        return self.user_id is not None and self.user_id == user_id


@dataclass(frozen=True)
class FivePointPlan:
    """五落实, required on a major hazard's order: person, measures, funds, deadline, plan."""

    responsible_person: str
    measures: str
    funds: str
    deadline: date
    contingency_plan: str

    def __post_init__(self) -> None:
        require_text(self.responsible_person, "five-point plan responsible person")
        require_text(self.measures, "five-point plan measures")
        require_text(self.funds, "five-point plan funds")
        require_text(self.contingency_plan, "five-point plan contingency plan")
        if not isinstance(self.deadline, date):
            raise InvalidCommand("five-point plan deadline must be a date")
