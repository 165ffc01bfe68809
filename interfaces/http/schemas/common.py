"""Field types and small models shared by requests and responses."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from domain.values import Actor, Evidence
from interfaces.http.validation import NO_NUL, NON_BLANK, integral

MAX_TEXT = 4000
MAX_SHORT_TEXT = 200
MAX_EVIDENCE_ITEMS = 50


def _encodable(value: str) -> str:
    # JSON can carry a lone surrogate ("\ud800"); no database can store one.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it contains a lone surrogate)") from None
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[
    str, StringConstraints(max_length=MAX_TEXT, pattern=NO_NUL), AfterValidator(_encodable)
]
"""Free text (notes, findings, reasons, measures)."""

ShortText = Annotated[
    str, StringConstraints(max_length=MAX_SHORT_TEXT, pattern=NO_NUL), AfterValidator(_encodable)
]
"""A name, region, contact, category."""

# Blank text is refused by the domain, with its own rule (``reason_required``):
# the document states it (a pattern, at least one character) without the
# schema taking that refusal over.
_NON_BLANK_IN_DOCUMENT = Field(json_schema_extra={"minLength": 1, "pattern": NON_BLANK})

RequiredText = Annotated[Text, _NON_BLANK_IN_DOCUMENT]
"""Free text the domain requires: not empty and not only whitespace."""

RequiredShortText = Annotated[ShortText, _NON_BLANK_IN_DOCUMENT]
"""A name, contact or category the domain requires."""

# Integers take ``3.0`` as JSON Schema has it, but never ``"3"`` or ``true``; the
# bounds sit inside, before the conversion, so the document states them.
TemplateVersion = Annotated[int, Field(strict=True, ge=1, le=10_000), BeforeValidator(integral)]
"""A checklist template's version."""

FileSize = Annotated[int, Field(strict=True, ge=0, le=2**40), BeforeValidator(integral)]
"""A file's size in bytes."""

Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
"""A checklist or item code, e.g. ``epidemic-2022`` or ``visitor-register``."""

UserId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"),
]

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class EvidenceRef(Strict):
    """A file uploaded with ``POST /evidence``, as that upload returned it."""

    sha256: Sha256 = Field(
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    )
    name: RequiredShortText = Field(min_length=1, examples=["visitor-register.jpg"])
    media_type: Annotated[str, StringConstraints(max_length=100)] = Field(
        pattern=r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$", examples=["image/jpeg"]
    )
    size: FileSize = Field(examples=[48213])

    def to_domain(self) -> Evidence:
        return Evidence(
            sha256=self.sha256, name=self.name, media_type=self.media_type, size=self.size
        )


EvidenceList = Annotated[list[EvidenceRef], Field(max_length=MAX_EVIDENCE_ITEMS)]


class EvidenceView(BaseModel):
    """A stored evidence file: what events record of it."""

    sha256: str = Field(
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    )
    name: str = Field(examples=["visitor-register.jpg"])
    media_type: str = Field(examples=["image/jpeg"])
    size: int = Field(examples=[48213])

    @classmethod
    def of(cls, evidence: Evidence) -> EvidenceView:
        return cls(
            sha256=evidence.sha256,
            name=evidence.name,
            media_type=evidence.media_type,
            size=evidence.size,
        )


class ActorView(BaseModel):
    """Who did something, as the event records them."""

    user_id: str = Field(examples=["chenxiaofeng"])
    name: str = Field(examples=["陈小峰"])
    role: str = Field(examples=["inspector"])

    @classmethod
    def of(cls, actor: Actor) -> ActorView:
        return cls(user_id=actor.user_id, name=actor.name, role=actor.role.value)
