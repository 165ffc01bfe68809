"""Site (受检场所): a place that is inspected, e.g. a massage shop run by a disabled owner."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import event

from domain.base import INSPECTING_ROLES, CaseAggregate, require_role
from domain.values import Actor, require_text


class Site(CaseAggregate):
    """A registered site. Its details are copied into nothing: others refer to its id."""

    @classmethod
    def register(
        cls,
        *,
        name: str,
        region: str,
        address: str,
        operator: str,
        contact: str,
        kind: str,
        actor: Actor,
        at: datetime,
    ) -> Site:
        """Register a site (inspectors and supervisors)."""
        require_role(actor, INSPECTING_ROLES, "register a site", "register_site_role")
        return cls(
            name=require_text(name, "site name", max_length=200),
            region=require_text(region, "site region", max_length=200),
            address=(address or "").strip(),
            operator=(operator or "").strip(),
            contact=(contact or "").strip(),
            kind=(kind or "").strip(),
            actor=actor,
            timestamp=at,
        )

    @event("Registered")
    def __init__(
        self,
        name: str,
        region: str,
        address: str,
        operator: str,
        contact: str,
        kind: str,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.name = name
        self.region = region
        self.address = address
        self.operator = operator
        self.contact = contact
        self.kind = kind
        self.registered_by = actor
