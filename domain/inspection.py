"""Inspection (检查): one site, against one version of a checklist template."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.base import INSPECTING_ROLES, CaseAggregate, require_role
from domain.checklists import ChecklistTemplate
from domain.errors import IllegalTransition, InvalidCommand
from domain.values import Actor, require_text


class InspectionStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ItemResult(StrEnum):
    PASS = "pass"  # 合格
    FAIL = "fail"  # 不合格
    NOT_APPLICABLE = "na"  # 不适用


class Inspection(CaseAggregate):
    """Open → every item recorded → completed, or cancelled with a reason.

    Nothing changes after completion or cancellation.
    """

    enum_attributes = (("status", InspectionStatus),)

    @classmethod
    def open(
        cls,
        *,
        site_id: UUID,
        template: ChecklistTemplate,
        inspectors: list[Actor],
        actor: Actor,
        at: datetime,
    ) -> Inspection:
        """Open an inspection; the opener is always one of its inspectors."""
        require_role(actor, INSPECTING_ROLES, "open an inspection", "open_inspection_role")
        team = [actor, *(i for i in inspectors if i.user_id != actor.user_id)]
        for member in team:
            if not member.may_inspect():
                raise InvalidCommand(
                    f"{member.name} is a {member.role.value}, not an inspector or supervisor",
                    rule="inspection_team_role",
                )
        return cls(
            site_id=site_id,
            template_code=template.code,
            template_version=template.version,
            item_codes=list(template.item_codes),
            inspectors=team,
            actor=actor,
            timestamp=at,
        )

    @event("Opened")
    def __init__(
        self,
        site_id: UUID,
        template_code: str,
        template_version: int,
        item_codes: list[str],
        inspectors: list[Actor],
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.site_id = site_id
        self.template_code = template_code
        self.template_version = template_version
        self.item_codes = list(item_codes)
        self.inspectors = list(inspectors)
        self.opened_by = actor
        self.opened_at = timestamp
        self.status = InspectionStatus.OPEN
        self.results: dict[str, dict[str, Any]] = {}
        self.hazard_ids: list[UUID] = []
        self.cancel_reason: str | None = None

    # -- commands -------------------------------------------------------------

    def record_item(
        self, *, item_code: str, result: ItemResult | str, note: str, actor: Actor, at: datetime
    ) -> None:
        """Record one checklist item as pass, fail or n.a.; a failure needs a note."""
        require_role(actor, INSPECTING_ROLES, "record an inspection item", "record_item_role")
        self._require_open("record an item")
        if item_code not in self.item_codes:
            raise InvalidCommand(
                f"item {item_code!r} is not on checklist {self.template_code} "
                f"v{self.template_version}",
                rule="unknown_checklist_item",
            )
        try:
            result = ItemResult(result)
        except ValueError:
            raise InvalidCommand(
                f"result must be pass, fail or na, not {result!r}", rule="item_result_invalid"
            ) from None
        note = (note or "").strip()
        if result == ItemResult.FAIL and not note:
            raise InvalidCommand(
                "a failed item needs a note saying what was found", rule="failed_item_needs_note"
            )
        self._item_recorded(
            item_code=item_code, result=result.value, note=note, actor=actor, timestamp=at
        )

    def link_hazard(
        self, *, hazard_id: UUID, item_code: str | None, actor: Actor, at: datetime
    ) -> None:
        """Note a hazard reported during this inspection (only while it is open)."""
        self._require_open("report a hazard")
        if item_code is not None:
            recorded = self.results.get(item_code)
            if item_code not in self.item_codes:
                raise InvalidCommand(
                    f"item {item_code!r} is not on this inspection's checklist",
                    rule="unknown_checklist_item",
                )
            if recorded is None or recorded["result"] != ItemResult.FAIL:
                raise IllegalTransition(
                    f"only a failed item can report a hazard; {item_code} is "
                    f"{recorded['result'] if recorded else 'not recorded'}",
                    rule="hazard_only_from_failed_item",
                )
        self._hazard_reported(hazard_id=hazard_id, item_code=item_code, actor=actor, timestamp=at)

    def complete(self, *, actor: Actor, at: datetime) -> None:
        """Complete the inspection once every item is recorded."""
        require_role(actor, INSPECTING_ROLES, "complete an inspection", "complete_inspection_role")
        self._require_open("complete the inspection")
        missing = [code for code in self.item_codes if code not in self.results]
        if missing:
            raise IllegalTransition(
                f"cannot complete: items not recorded: {', '.join(missing)}",
                rule="inspection_complete_needs_every_item",
            )
        self._completed(actor=actor, timestamp=at)

    def cancel(self, *, reason: str, actor: Actor, at: datetime) -> None:
        """Cancel an open inspection, with a reason."""
        require_role(actor, INSPECTING_ROLES, "cancel an inspection", "cancel_inspection_role")
        self._require_open("cancel the inspection")
        self._cancelled(reason=require_text(reason, "reason"), actor=actor, timestamp=at)

    def _require_open(self, action: str) -> None:
        self._require_status(
            [InspectionStatus.OPEN], action, "nothing_changes_after_inspection_completion"
        )

    # -- events ---------------------------------------------------------------

    class ItemRecorded(Aggregate.Event):
        """Version 1 recorded ``passed: bool``; version 2 records pass / fail / n.a."""

        item_code: str
        result: str
        note: str
        actor: Actor

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["result"] = (
                ItemResult.PASS.value if state.pop("passed") else ItemResult.FAIL.value
            )

    @event(ItemRecorded)
    def _item_recorded(
        self, item_code: str, result: str, note: str, actor: Actor, timestamp: datetime
    ) -> None:
        self.results[item_code] = {
            "result": ItemResult(result),
            "note": note,
            "by": actor.user_id,
        }

    @event("HazardReported")
    def _hazard_reported(
        self, hazard_id: UUID, item_code: str | None, actor: Actor, timestamp: datetime
    ) -> None:
        self.hazard_ids.append(hazard_id)

    @event("Completed")
    def _completed(self, actor: Actor, timestamp: datetime) -> None:
        self.status = InspectionStatus.COMPLETED

    @event("Cancelled")
    def _cancelled(self, reason: str, actor: Actor, timestamp: datetime) -> None:
        self.status = InspectionStatus.CANCELLED
        self.cancel_reason = reason
