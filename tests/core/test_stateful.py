"""Random workflows over several cases, acted by random people, checked after every step.

A hypothesis state machine opens inspections, records items, reports hazards,
issues orders, acknowledges, reports completion, verifies (pass or fail),
closes, reopens, dismisses, re-grades, asks for and decides extensions, moves
the clock and marks overdue orders — each as a person drawn from the cast,
often the wrong one, sometimes on a stale version. A refused command is an
allowed outcome, but it must leave the log as it was. After every step:

- the rules of the case hold on the stored state (a closed hazard has a passed
  verification, at most one open order per hazard, the hazard points at its
  open order, a fulfilled order has a passed verification, order numbers are
  unique, states only move along the product's transitions, a deadline moves
  only by a granted extension or a failed verification);
- every aggregate the step saved, loaded afresh from the store — by a new
  application on the same database — equals what the application held in
  memory when it saved it (and at the end of a run, every aggregate does).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from application.errors import ApplicationError
from domain.errors import DomainError
from domain.hazard import Hazard, HazardStatus
from domain.inspection import Inspection, InspectionStatus
from domain.order import OrderStatus, RectificationOrder
from domain.values import SYSTEM_ACTOR, Actor, Role, Severity
from domain.verification import Verification
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.backends import (
    POPO_URL,
    create_database,
    drop_database,
    postgres_server,
    require_postgres,
    sqlite_url_for,
)
from tests.core.scenario import (
    CHECKLIST,
    CHEN_XIAOFENG,
    KANGSHUN_SHOP,
    LIU_FANG,
    PARTY_OF_SITE,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    TAO_BIAOYIN_SHOP,
    YU_JIANHUA,
    YU_JIANHUA_SHOP,
    YU_JIANMING,
    ZHANG_MING,
    FakePasswords,
    Sweep,
    five_point_plan,
    password_of,
    photo,
)

CAST = (ZHANG_MING, YU_JIANMING, CHEN_XIAOFENG, LIU_FANG, TAO_BIAOYIN, YU_JIANHUA)
SHOPS = (TAO_BIAOYIN_SHOP, KANGSHUN_SHOP, YU_JIANHUA_SHOP)
MAX_INSPECTIONS = 4

# Where each state may go next; staying put is always allowed.
HAZARD_MOVES = {
    HazardStatus.REPORTED: {
        HazardStatus.RECTIFYING,
        HazardStatus.AWAITING_VERIFICATION,
        HazardStatus.DISMISSED,
    },
    HazardStatus.RECTIFYING: {HazardStatus.AWAITING_VERIFICATION, HazardStatus.DISMISSED},
    HazardStatus.AWAITING_VERIFICATION: {
        HazardStatus.VERIFIED,
        HazardStatus.RECTIFYING,
        HazardStatus.REPORTED,
        HazardStatus.DISMISSED,
    },
    HazardStatus.VERIFIED: {HazardStatus.CLOSED},
    HazardStatus.CLOSED: {HazardStatus.RECTIFYING},
    HazardStatus.DISMISSED: set(),
}
ORDER_MOVES = {
    OrderStatus.ISSUED: {
        OrderStatus.ACKNOWLEDGED,
        OrderStatus.COMPLETION_REPORTED,
        OrderStatus.CANCELLED,
    },
    OrderStatus.ACKNOWLEDGED: {OrderStatus.COMPLETION_REPORTED, OrderStatus.CANCELLED},
    OrderStatus.COMPLETION_REPORTED: {
        OrderStatus.FULFILLED,
        OrderStatus.ACKNOWLEDGED,
        OrderStatus.CANCELLED,
    },
    OrderStatus.FULFILLED: set(),
    OrderStatus.CANCELLED: set(),
}
INSPECTION_MOVES = {
    InspectionStatus.OPEN: {InspectionStatus.COMPLETED, InspectionStatus.CANCELLED},
    InspectionStatus.COMPLETED: set(),
    InspectionStatus.CANCELLED: set(),
}
ORDER_NUMBER = re.compile(r"^\d{4}-\d{4}$")

actors = st.sampled_from(CAST)
# Biased toward who may act, so that cases get far along their workflow.
inspecting = st.sampled_from([CHEN_XIAOFENG, CHEN_XIAOFENG, ZHANG_MING, YU_JIANMING, *CAST])
supervising = st.sampled_from([ZHANG_MING, YU_JIANMING, ZHANG_MING, YU_JIANMING, *CAST])
# Mostly the current version, sometimes a stale one, sometimes none at all.
version_offsets = st.sampled_from([0, 0, 0, 0, -1, None])
reasons = st.sampled_from(["", "  ", "店主反映情况属实", "复查需要", "误报", "检测点临时关闭"])


def state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's attributes, without the events it has yet to save."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


class Store:
    """A fresh, empty store for one run of the machine, and a way to drop it."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._directory: str | None = None
        self._dbname: str | None = None
        if backend == "popo":
            self.url = POPO_URL
        elif backend == "sqlite":
            self._directory = tempfile.mkdtemp(prefix="rectify-stateful-")
            self.url = sqlite_url_for(Path(self._directory) / "rectify.sqlite3")
        else:
            self._dbname = create_database(postgres_server())
            self.url = postgres_server().url(self._dbname)

    def drop(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        if self._dbname is not None:
            drop_database(postgres_server(), self._dbname)


class CaseWorkflows(RuleBasedStateMachine):
    """Several rectification cases driven at random; see the module docstring."""

    backend: ClassVar[str] = "popo"

    def __init__(self) -> None:
        super().__init__()
        self.store = Store(self.backend)
        self.clock = ManualClock(SWEEP_STARTS)
        self.app = build_app(self.store.url, clock=self.clock, passwords=FakePasswords())
        # A second application reads what the first saved, as another process
        # would; the in-memory store exists only inside the first one.
        if self.backend == "popo":
            assert self.app.repository.cache is None
            self.reader = self.app
        else:
            self.reader = build_app(self.store.url, clock=self.clock, passwords=FakePasswords())
        self.sweep = Sweep(self.app, self.clock)
        # What the application held in memory when it last saved each aggregate.
        self.saved: dict[UUID, Any] = {}
        self.changed: set[UUID] = set()
        self._capture_saves()
        self.shop_of_site = {self.sweep.site(shop): shop for shop in SHOPS}
        self.inspections: list[UUID] = []
        self.hazards: list[UUID] = []
        self.orders: list[UUID] = []
        self.statuses: dict[UUID, str] = {}
        self.deadlines: dict[UUID, date] = {}
        self.last_command: tuple[str, UUID | None] = ("", None)

    def teardown(self) -> None:
        try:
            # Once more for everything, in case a step changed what it did not save.
            self.stored_state_equals_state_in_memory(set(self.saved))
        finally:
            self.app.close()
            if self.reader is not self.app:
                self.reader.close()
            self.store.drop()

    def _capture_saves(self) -> None:
        original = self.app.save

        def save(*objs: Any, **kwargs: Any) -> Any:
            recordings = original(*objs, **kwargs)
            for obj in objs:
                if obj is not None:
                    self.saved[obj.id] = obj
                    self.changed.add(obj.id)
            return recordings

        self.app.save = save  # type: ignore[method-assign]

    # -- acting ---------------------------------------------------------------------

    def attempt(self, name: str, subject: UUID | None, actor: Actor, command: Any) -> Any:
        """Run ``command``; a refusal must record nothing, a success only ``actor``'s events."""
        before = self.sweep.log_position()
        try:
            result = command()
        except (DomainError, ApplicationError) as error:
            assert self.sweep.log_position() == before, f"{error.rule} recorded events"
            return None
        for recorded in self.sweep.events_since(before):
            assert recorded.actor == actor, f"{type(recorded).__qualname__} by {recorded.actor}"
            assert recorded.timestamp == self.clock()
        self.last_command = (name, subject)
        return result

    def pick(self, data: st.DataObject, ids: list[UUID], *wanted: str) -> UUID:
        """One of ``ids``; half the time one whose status is among ``wanted``, if any is."""
        fitting = [i for i in ids if self.saved[i].status in wanted]
        if fitting and data.draw(st.booleans()):
            return data.draw(st.sampled_from(fitting))
        return data.draw(st.sampled_from(ids))

    def expected(self, aggregate_id: UUID, offset: int | None) -> int | None:
        if offset is None:
            return None
        return self.sweep.version(aggregate_id) + offset

    def party_actor(self, order_id: UUID, choice: int) -> Actor:
        """The order's own party (or an inspector for them) half the time, else anyone."""
        if choice % 2 == 0:
            return self.sweep.acting_party(order_id)
        return CAST[choice % len(CAST)]

    # -- inspections ------------------------------------------------------------------

    @initialize(site=st.sampled_from(SHOPS), severity=st.sampled_from(list(Severity)))
    def a_first_hazard(self, site: str, severity: Severity) -> None:
        """Start from the sweep's first finding, so that cases are there to act on."""
        inspection_id = self.sweep.open_inspection(site)
        self.sweep.record_all(inspection_id)
        self.inspections.append(inspection_id)
        self.hazards.append(self.sweep.report_hazard(inspection_id, severity))

    @precondition(lambda self: len(self.inspections) < MAX_INSPECTIONS)
    @rule(site=st.sampled_from(SHOPS), actor=inspecting)
    def open_inspection(self, site: str, actor: Actor) -> None:
        inspection_id = self.attempt(
            "open_inspection", None, actor, lambda: self.sweep.open_inspection(site, by=actor)
        )
        if inspection_id is not None:
            self.inspections.append(inspection_id)

    @precondition(lambda self: self.inspections)
    @rule(
        data=st.data(),
        item=st.sampled_from(CHECKLIST.item_codes),
        result=st.sampled_from(["pass", "fail", "fail", "na"]),
        note=st.sampled_from(["", "店员未做核酸"]),
        actor=inspecting,
        offset=version_offsets,
    )
    def record_item(
        self,
        data: st.DataObject,
        item: str,
        result: str,
        note: str,
        actor: Actor,
        offset: int | None,
    ) -> None:
        inspection_id = data.draw(st.sampled_from(self.inspections))
        self.attempt(
            "record_item",
            inspection_id,
            actor,
            lambda: self.app.record_item(
                actor,
                inspection_id,
                item_code=item,
                result=result,
                note=note,
                expected_version=self.expected(inspection_id, offset),
            ),
        )

    @precondition(lambda self: self.inspections)
    @rule(
        data=st.data(),
        failed=st.sets(st.sampled_from(CHECKLIST.item_codes), min_size=1, max_size=2),
    )
    def record_every_item(self, data: st.DataObject, failed: set[str]) -> None:
        """陈小峰 records what is left of an inspection, ``failed`` items as failed."""
        inspection_id = data.draw(st.sampled_from(self.inspections))
        recorded = self.app.get_inspection(inspection_id).results
        for code in CHECKLIST.item_codes:
            if code not in recorded:
                result, note = ("fail", "店员未做核酸") if code in failed else ("pass", "")
                self.attempt(
                    "record_item",
                    inspection_id,
                    CHEN_XIAOFENG,
                    lambda c=code, r=result, n=note: self.sweep.record(inspection_id, c, r, note=n),
                )

    @precondition(lambda self: self.inspections)
    @rule(data=st.data(), actor=inspecting, now=st.sampled_from([True, False, False]))
    def complete_inspection(self, data: st.DataObject, actor: Actor, now: bool) -> None:
        inspection_id = data.draw(st.sampled_from(self.inspections))
        if not now:
            return  # completing ends the reporting of hazards: do it seldom
        self.attempt(
            "complete_inspection",
            inspection_id,
            actor,
            lambda: self.app.complete_inspection(actor, inspection_id, expected_version=None),
        )

    @precondition(lambda self: self.inspections)
    @rule(data=st.data(), actor=actors, reason=reasons, now=st.sampled_from([True, False, False]))
    def cancel_inspection(self, data: st.DataObject, actor: Actor, reason: str, now: bool) -> None:
        inspection_id = data.draw(st.sampled_from(self.inspections))
        if not now:
            return  # cancelling ends the reporting of hazards: do it seldom
        self.attempt(
            "cancel_inspection",
            inspection_id,
            actor,
            lambda: self.app.cancel_inspection(
                actor, inspection_id, reason=reason, expected_version=None
            ),
        )

    # -- hazards ----------------------------------------------------------------------

    @precondition(lambda self: self.inspections)
    @rule(
        data=st.data(),
        which=st.sampled_from(["failed", "failed", "none", "any"]),
        severity=st.sampled_from([Severity.GENERAL, Severity.MAJOR]),
        actor=inspecting,
    )
    def report_hazard(
        self, data: st.DataObject, which: str, severity: Severity, actor: Actor
    ) -> None:
        inspection_id = data.draw(st.sampled_from(self.inspections))
        results = self.app.get_inspection(inspection_id).results
        failed = sorted(code for code, r in results.items() if r["result"] == "fail")
        item: str | None = None
        if which == "any" or (which == "failed" and not failed):
            item = data.draw(st.sampled_from(CHECKLIST.item_codes))
        elif which == "failed":
            item = data.draw(st.sampled_from(failed))
        hazard_id = self.attempt(
            "report_hazard",
            inspection_id,
            actor,
            lambda: self.sweep.report_hazard(inspection_id, severity, item_code=item, by=actor),
        )
        if hazard_id is not None:
            self.hazards.append(hazard_id)

    @precondition(lambda self: self.hazards)
    @rule(data=st.data(), actor=inspecting, with_evidence=st.booleans())
    def fix_on_the_spot(self, data: st.DataObject, actor: Actor, with_evidence: bool) -> None:
        hazard_id = self.pick(data, self.hazards, HazardStatus.REPORTED)
        evidence = [photo("当场整改")] if with_evidence else []
        self.attempt(
            "fix_on_the_spot",
            hazard_id,
            actor,
            lambda: self.app.fix_on_the_spot(
                actor,
                hazard_id,
                note="当场补测",
                evidence=evidence,
                expected_version=None,
            ),
        )

    @precondition(lambda self: self.hazards)
    @rule(
        data=st.data(),
        severity=st.sampled_from(["general", "major"]),
        actor=inspecting,
        reason=reasons,
        offset=version_offsets,
    )
    def regrade(
        self, data: st.DataObject, severity: str, actor: Actor, reason: str, offset: int | None
    ) -> None:
        hazard_id = data.draw(st.sampled_from(self.hazards))
        self.attempt(
            "regrade",
            hazard_id,
            actor,
            lambda: self.app.regrade_hazard(
                actor,
                hazard_id,
                severity=severity,
                reason=reason,
                expected_version=self.expected(hazard_id, offset),
            ),
        )

    @precondition(lambda self: self.hazards)
    @rule(
        data=st.data(),
        actor=inspecting,
        deadline_days=st.sampled_from([None, None, 3, 0]),
        with_plan=st.sampled_from([True, True, False]),
    )
    def issue_order(
        self, data: st.DataObject, actor: Actor, deadline_days: int | None, with_plan: bool
    ) -> None:
        hazard_id = data.draw(st.sampled_from(self.hazards))
        hazard = self.app.get_hazard(hazard_id)
        party = PARTY_OF_SITE[self.shop_of_site[hazard.site_id]]
        today = self.app.today()
        deadline = None if deadline_days is None else today + timedelta(days=deadline_days)
        plan = five_point_plan(party, today + timedelta(days=30)) if with_plan else None
        order_id = self.attempt(
            "issue_order",
            hazard_id,
            actor,
            lambda: self.app.issue_order(
                actor,
                hazard_id,
                party=party,
                measures="立即检测并登记",
                deadline=deadline,
                five_point_plan=plan,
                expected_version=hazard.version,
            ),
        )
        if order_id is not None:
            self.orders.append(order_id)

    @precondition(lambda self: self.hazards)
    @rule(data=st.data(), actor=supervising, reason=reasons)
    def dismiss(self, data: st.DataObject, actor: Actor, reason: str) -> None:
        hazard_id = self.pick(
            data, self.hazards, HazardStatus.RECTIFYING, HazardStatus.AWAITING_VERIFICATION
        )
        self.attempt(
            "dismiss",
            hazard_id,
            actor,
            lambda: self.app.dismiss_hazard(
                actor,
                hazard_id,
                reason=reason,
                expected_version=None,
            ),
        )

    @precondition(lambda self: self.hazards)
    @rule(data=st.data(), passed=st.booleans(), actor=inspecting, offset=version_offsets)
    def verify(self, data: st.DataObject, passed: bool, actor: Actor, offset: int | None) -> None:
        hazard_id = self.pick(data, self.hazards, HazardStatus.AWAITING_VERIFICATION)
        self.attempt(
            "verify",
            hazard_id,
            actor,
            lambda: self.app.verify(
                actor,
                hazard_id,
                passed=passed,
                findings="复查" + ("合格" if passed else "不合格"),
                expected_version=self.expected(hazard_id, offset),
            ),
        )

    @precondition(lambda self: self.hazards)
    @rule(
        data=st.data(),
        actor=supervising,
        the_verifier=st.booleans(),
        right_password=st.sampled_from([True, True, False]),
    )
    def close(
        self, data: st.DataObject, actor: Actor, the_verifier: bool, right_password: bool
    ) -> None:
        hazard_id = self.pick(data, self.hazards, HazardStatus.VERIFIED)
        before = self.app.get_hazard(hazard_id)
        verifier = next((a for a in CAST if a.user_id == before.verified_by), None)
        if the_verifier and verifier is not None:
            actor = verifier  # the closer who must not be a major case's verifier
        self._close(hazard_id, actor, right_password)

    def _close(self, hazard_id: UUID, actor: Actor, right_password: bool) -> None:
        before = self.app.get_hazard(hazard_id)
        password = password_of(actor) if right_password else "wrong"
        done = self.attempt(
            "close",
            hazard_id,
            actor,
            lambda: self.app.close_case(
                actor,
                hazard_id,
                reason="准予销号",
                password=password,
                expected_version=None,
            ),
        )
        if done is not None:
            assert actor.role == Role.SUPERVISOR and right_password
            assert before.status == HazardStatus.VERIFIED
            if before.severity == Severity.MAJOR:
                assert actor.user_id != before.verified_by, "a major case closed by its verifier"

    @precondition(lambda self: self.hazards)
    @rule(data=st.data(), actor=supervising, reason=reasons)
    def reopen(self, data: st.DataObject, actor: Actor, reason: str) -> None:
        hazard_id = self.pick(data, self.hazards, HazardStatus.CLOSED)
        self.attempt(
            "reopen",
            hazard_id,
            actor,
            lambda: self.app.reopen_case(
                actor,
                hazard_id,
                reason=reason,
                expected_version=None,
            ),
        )

    @precondition(lambda self: self.hazards)
    @rule(data=st.data(), steps=st.integers(1, 6))
    def take_a_case_further(self, data: st.DataObject, steps: int) -> None:
        """Do the next things the workflow expects, each as the person who would do it."""
        hazard_id = data.draw(st.sampled_from(self.hazards))
        for _ in range(steps):
            self._next_step(data, hazard_id)
            self.states_move_only_along_the_workflow(self.saved)

    def _next_step(self, data: st.DataObject, hazard_id: UUID) -> None:
        hazard = self.app.get_hazard(hazard_id)
        order = self.app.get_order(hazard.open_order_id) if hazard.open_order_id else None
        status = hazard.status
        if status == HazardStatus.REPORTED:
            party = PARTY_OF_SITE[self.shop_of_site[hazard.site_id]]
            order_id = self.attempt(
                "issue_order",
                hazard_id,
                CHEN_XIAOFENG,
                lambda: self.sweep.issue_order(hazard_id, party=party),
            )
            if order_id is not None:
                self.orders.append(order_id)
        elif status == HazardStatus.RECTIFYING and order is not None:
            party = self.sweep.acting_party(order.id)
            if order.status == OrderStatus.ISSUED:
                self.attempt(
                    "acknowledge",
                    order.id,
                    party,
                    lambda: self.sweep.acknowledge(order.id, by=party),
                )
            else:
                self.attempt(
                    "report_completion",
                    order.id,
                    party,
                    lambda: self.sweep.report_completion(order.id, by=party),
                )
        elif status == HazardStatus.AWAITING_VERIFICATION:
            verifier = data.draw(st.sampled_from([CHEN_XIAOFENG, ZHANG_MING]))
            passes = data.draw(st.sampled_from([True, True, False]))
            self.attempt(
                "verify",
                hazard_id,
                verifier,
                lambda: self.sweep.verify(hazard_id, passed=passes, by=verifier),
            )
        elif status == HazardStatus.VERIFIED:
            # Either supervisor: for a major case one of them may be its verifier.
            self._close(hazard_id, data.draw(st.sampled_from([ZHANG_MING, YU_JIANMING])), True)

    # -- orders -----------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), choice=st.integers(0, 11), offset=version_offsets)
    def acknowledge(self, data: st.DataObject, choice: int, offset: int | None) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        actor = self.party_actor(order_id, choice)
        self.attempt(
            "acknowledge",
            order_id,
            actor,
            lambda: self.app.acknowledge_order(
                actor,
                order_id,
                expected_version=self.expected(order_id, offset),
            ),
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), choice=st.integers(0, 11))
    def report_progress(self, data: st.DataObject, choice: int) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        actor = self.party_actor(order_id, choice)
        self.attempt(
            "report_progress",
            order_id,
            actor,
            lambda: self.app.report_progress(
                actor,
                order_id,
                note="已预约检测",
                expected_version=None,
            ),
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), choice=st.integers(0, 11), days=st.integers(-2, 20), reason=reasons)
    def request_extension(self, data: st.DataObject, choice: int, days: int, reason: str) -> None:
        order_id = self.pick(data, self.orders, OrderStatus.ISSUED, OrderStatus.ACKNOWLEDGED)
        actor = self.party_actor(order_id, choice)
        new_deadline = self.app.get_order(order_id).deadline + timedelta(days=days)
        self.attempt(
            "request_extension",
            order_id,
            actor,
            lambda: self.app.request_extension(
                actor,
                order_id,
                new_deadline=new_deadline,
                reason=reason,
                expected_version=None,
            ),
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), actor=supervising, grant=st.booleans(), right_password=st.booleans())
    def decide_extension(
        self, data: st.DataObject, actor: Actor, grant: bool, right_password: bool
    ) -> None:
        order_id = self.pick(data, self.orders, OrderStatus.ISSUED, OrderStatus.ACKNOWLEDGED)
        if grant:
            password = password_of(actor) if right_password else "wrong"
            self.attempt(
                "grant_extension",
                order_id,
                actor,
                lambda: self.app.grant_extension(
                    actor,
                    order_id,
                    reason="同意",
                    password=password,
                    expected_version=None,
                ),
            )
        else:
            self.attempt(
                "deny_extension",
                order_id,
                actor,
                lambda: self.app.deny_extension(
                    actor,
                    order_id,
                    reason="不同意",
                    expected_version=None,
                ),
            )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), choice=st.integers(0, 11), offset=version_offsets)
    def report_completion(self, data: st.DataObject, choice: int, offset: int | None) -> None:
        order_id = self.pick(data, self.orders, OrderStatus.ACKNOWLEDGED)
        actor = self.party_actor(order_id, choice)
        self.attempt(
            "report_completion",
            order_id,
            actor,
            lambda: self.app.report_completion(
                actor,
                order_id,
                note="已整改",
                evidence=[photo("整改后")],
                expected_version=self.expected(order_id, offset),
            ),
        )

    # -- time -------------------------------------------------------------------------

    @rule(days=st.integers(0, 12), hours=st.integers(0, 23))
    def time_passes_and_overdue_orders_are_marked(self, days: int, hours: int) -> None:
        self.clock.advance(days=days, hours=hours)
        before = self.sweep.log_position()
        report = self.app.mark_overdue()
        events = self.sweep.events_since(before)
        assert {e.originator_id for e in events} == set(report.marked)
        assert all(e.actor == SYSTEM_ACTOR for e in events)
        assert set(report.escalated) <= set(report.marked)
        self.last_command = ("mark_overdue", None)

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def after_every_step(self) -> None:
        """What the step saved loads afresh as it was in memory; then the rules hold."""
        self.stored_state_equals_state_in_memory(self.changed)
        self.changed.clear()
        # Every aggregate now equals its stored state, so the checks may read memory.
        self.the_rules_of_the_case_hold(self.saved)
        self.states_move_only_along_the_workflow(self.saved)

    def stored_state_equals_state_in_memory(self, ids: set[UUID]) -> None:
        for aggregate_id in ids:
            in_memory = self.saved[aggregate_id]
            fresh = self.reader.repository.get(aggregate_id)
            assert type(fresh) is type(in_memory)
            assert state_of(fresh) == state_of(in_memory), type(fresh).__name__

    def the_rules_of_the_case_hold(self, stored: dict[UUID, Any]) -> None:
        today = self.app.today()
        hazards: dict[UUID, Hazard] = {h: stored[h] for h in self.hazards}
        orders: dict[UUID, RectificationOrder] = {o: stored[o] for o in self.orders}
        verifications: dict[UUID, Verification] = {
            v: stored[v] for h in hazards.values() for v in h.verification_ids
        }

        numbers = [o.number for o in orders.values()]
        assert len(set(numbers)) == len(numbers), numbers
        assert all(ORDER_NUMBER.match(n) for n in numbers)

        for hazard in hazards.values():
            open_orders = [o.id for o in orders.values() if o.hazard_id == hazard.id and o.is_open]
            assert len(open_orders) <= 1, "one open order per hazard at a time"
            assert open_orders == ([hazard.open_order_id] if hazard.open_order_id else [])
            assert [o for o in hazard.order_ids if orders[o].hazard_id != hazard.id] == []
            last = verifications[hazard.verification_ids[-1]] if hazard.verification_ids else None
            if hazard.status in (HazardStatus.VERIFIED, HazardStatus.CLOSED):
                assert last is not None and last.passed, "closed or verified without a pass"
                assert hazard.verified_by == last.verifier.user_id
                assert hazard.open_order_id is None
            if hazard.status == HazardStatus.REPORTED:
                assert hazard.open_order_id is None and not hazard.fixed_on_spot
            if hazard.status == HazardStatus.AWAITING_VERIFICATION:
                if hazard.open_order_id is None:
                    assert hazard.fixed_on_spot and hazard.severity == Severity.GENERAL
                else:
                    assert orders[hazard.open_order_id].status == OrderStatus.COMPLETION_REPORTED
            if hazard.status == HazardStatus.RECTIFYING and hazard.open_order_id is not None:
                assert orders[hazard.open_order_id].status in (
                    OrderStatus.ISSUED,
                    OrderStatus.ACKNOWLEDGED,
                )

        for order in orders.values():
            hazard = hazards[order.hazard_id]
            attempts = [v for v in verifications.values() if v.order_id == order.id]
            if order.status == OrderStatus.FULFILLED:
                assert [v.passed for v in attempts][-1] is True
                assert hazard.status != HazardStatus.REPORTED
            assert order.attempt == 1 + sum(not v.passed for v in attempts)
            for v in attempts:
                assert v.verifier.role in (Role.INSPECTOR, Role.SUPERVISOR)
                assert v.verifier.user_id != order.party.user_id
            if order.severity == Severity.MAJOR:
                assert order.five_point_plan is not None
            if order.is_overdue:
                assert order.deadline < today
            if order.escalated:
                assert order.overdue_deadline is not None

        for inspection_id in self.inspections:
            inspection: Inspection = stored[inspection_id]
            if inspection.status == InspectionStatus.COMPLETED:
                assert set(inspection.results) == set(inspection.item_codes)
            assert {hazards[h].inspection_id for h in inspection.hazard_ids} <= {inspection_id}

    def states_move_only_along_the_workflow(self, stored: dict[UUID, Any]) -> None:
        """Each status change since the last look is one the workflow allows, and a
        deadline moved only by a granted extension or a failed verification."""
        for hazard_id in self.hazards:
            self._moved_along(stored[hazard_id], HAZARD_MOVES)
        for order_id in self.orders:
            order = stored[order_id]
            self._moved_along(order, ORDER_MOVES)
            self._deadline_moved_only_by_extension_or_failed_verification(order)
        for inspection_id in self.inspections:
            self._moved_along(stored[inspection_id], INSPECTION_MOVES)

    def _moved_along(self, aggregate: Any, moves: dict[Any, set[Any]]) -> None:
        previous = self.statuses.get(aggregate.id)
        if previous is not None and previous != aggregate.status:
            assert aggregate.status in moves[previous], f"{previous} -> {aggregate.status}"
        self.statuses[aggregate.id] = aggregate.status

    def _deadline_moved_only_by_extension_or_failed_verification(
        self, order: RectificationOrder
    ) -> None:
        previous = self.deadlines.get(order.id)
        if previous is not None and previous != order.deadline:
            assert self.last_command in (
                ("grant_extension", order.id),
                ("verify", order.hazard_id),
            ), f"deadline moved by {self.last_command}"
            assert order.deadline > previous or self.last_command[0] == "verify"
        self.deadlines[order.id] = order.deadline


SETTINGS = {
    "popo": settings(max_examples=60, stateful_step_count=50),
    "sqlite": settings(max_examples=25, stateful_step_count=40),
    "postgres": settings(max_examples=8, stateful_step_count=30),
}


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("popo", id="popo"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def test_random_workflows_keep_the_rules_and_store_what_they_did(backend: str) -> None:
    if backend == "postgres":
        require_postgres(postgres_server())
    machine = type(f"CaseWorkflowsOn{backend.title()}", (CaseWorkflows,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(
            SETTINGS[backend],
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
