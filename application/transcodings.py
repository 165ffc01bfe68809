"""How the value objects are written into the stored JSON of events and snapshots.

Each becomes ``{"_type_": name, "_data_": {field: value}}`` so the stored events
stay readable, with their field names, by anyone who opens the database.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.values import Actor, Evidence, FivePointPlan, ResponsibleParty, Signature


class DateAsISO(Transcoding):
    """A calendar date, e.g. a deadline, as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass value object as a dict of its fields."""

    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name
        self._fields = tuple(f.name for f in fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


VALUE_OBJECTS: dict[type, str] = {
    Actor: "actor",
    Evidence: "evidence",
    Signature: "signature",
    ResponsibleParty: "responsible_party",
    FivePointPlan: "five_point_plan",
}


def register_value_objects(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for cls, name in VALUE_OBJECTS.items():
        transcoder.register(DataclassAsDict(cls, name))
