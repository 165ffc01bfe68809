"""Random histories of many cases, for the tests that compare live read models
with rebuilt ones.

An operation is a name and a number (which case, which shop, how many events
at once): open a case at some stage, move a case one step along its workflow,
fail a verification, ask for, grant or deny an extension, dismiss, re-grade,
reopen, report progress, fix on the spot, let time pass and run the overdue
check. A command the domain refuses records nothing and is simply skipped.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from application.app import RectifyApp
from application.errors import ApplicationError
from domain.errors import DomainError
from domain.hazard import HazardStatus
from domain.order import OrderStatus
from domain.values import Severity
from tests.core.scenario import (
    CHEN_XIAOFENG,
    KANGSHUN_SHOP,
    TAO_BIAOYIN_SHOP,
    YU_JIANHUA_SHOP,
    YU_JIANMING,
    ZHANG_MING,
    Case,
    Stage,
    Sweep,
    password_of,
    photo,
)

SHOPS = (TAO_BIAOYIN_SHOP, KANGSHUN_SHOP, YU_JIANHUA_SHOP)
OPERATIONS = (
    "open",
    "advance",
    "advance",
    "advance",
    "fail",
    "extend",
    "decide",
    "dismiss",
    "regrade",
    "reopen",
    "progress",
    "spot_fix",
    "time",
    "project",
)

operations = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(min_value=0, max_value=7)),
    min_size=4,
    max_size=28,
)


class History:
    """Plays operations on one application; ``on_project(n)`` is called for the
    ``project`` operation (e.g. to apply the latest events to the live read models)."""

    def __init__(self, sweep: Sweep, on_project: Any = None) -> None:
        self.sweep = sweep
        self.app: RectifyApp = sweep.app
        self.cases: list[Case] = []
        self.on_project = on_project

    def play(self, steps: list[tuple[str, int]]) -> None:
        for name, n in steps:
            # A refused command recorded nothing, which is all this history needs.
            with contextlib.suppress(DomainError, ApplicationError):
                getattr(self, "_" + name)(n)

    def _case(self, n: int) -> Case | None:
        return self.cases[n % len(self.cases)] if self.cases else None

    def _open(self, n: int) -> None:
        stage = Stage(1 + n % len(Stage))
        severity = Severity.MAJOR if n % 3 == 0 else Severity.GENERAL
        self.cases.append(
            self.sweep.arrange_case(
                max(stage, Stage.HAZARD_REPORTED), severity=severity, site=SHOPS[n % 3]
            )
        )

    def _advance(self, n: int) -> None:
        case = self._case(n)
        if case is None:
            return self._open(n)
        hazard = self.app.get_hazard(case.hazard)
        sweep = self.sweep
        if hazard.status == HazardStatus.REPORTED:
            case.order_id = sweep.issue_order(case.hazard, case.party)
        elif hazard.status == HazardStatus.RECTIFYING and hazard.open_order_id is not None:
            case.order_id = hazard.open_order_id
            order = self.app.get_order(case.order)
            if order.status == OrderStatus.ISSUED:
                sweep.acknowledge(case.order)
            else:
                sweep.report_completion(case.order)
        elif hazard.status == HazardStatus.RECTIFYING:
            case.order_id = sweep.issue_order(case.hazard, case.party)
        elif hazard.status == HazardStatus.AWAITING_VERIFICATION:
            sweep.verify(case.hazard, by=ZHANG_MING if n % 2 else CHEN_XIAOFENG)
        elif hazard.status == HazardStatus.VERIFIED:
            verifier = hazard.verified_by
            closer = YU_JIANMING if verifier == ZHANG_MING.user_id else ZHANG_MING
            sweep.close(case.hazard, by=closer)
        return None

    def _fail(self, n: int) -> None:
        case = self._case(n)
        if case is not None:
            self.sweep.verify(case.hazard, passed=False)

    def _extend(self, n: int) -> None:
        case = self._case(n)
        if case is not None and case.order_id is not None:
            deadline = self.app.get_order(case.order).deadline
            self.sweep.request_extension(case.order, deadline + timedelta(days=1 + n))

    def _decide(self, n: int) -> None:
        case = self._case(n)
        if case is None or case.order_id is None:
            return
        version = self.sweep.version(case.order)
        if n % 2:
            self.app.grant_extension(
                ZHANG_MING,
                case.order,
                reason="同意延期",
                password=password_of(ZHANG_MING),
                expected_version=version,
            )
        else:
            self.app.deny_extension(
                ZHANG_MING, case.order, reason="按期整改", expected_version=version
            )

    def _dismiss(self, n: int) -> None:
        case = self._case(n)
        if case is not None:
            self.app.dismiss_hazard(
                ZHANG_MING,
                case.hazard,
                reason="误报",
                expected_version=self.sweep.version(case.hazard),
            )

    def _regrade(self, n: int) -> None:
        case = self._case(n)
        if case is not None:
            current = self.app.get_hazard(case.hazard).severity
            other = Severity.GENERAL if current == Severity.MAJOR else Severity.MAJOR
            self.app.regrade_hazard(
                CHEN_XIAOFENG,
                case.hazard,
                severity=other,
                reason="复核后调整等级",
                expected_version=self.sweep.version(case.hazard),
            )

    def _reopen(self, n: int) -> None:
        case = self._case(n)
        if case is not None:
            self.app.reopen_case(
                ZHANG_MING,
                case.hazard,
                reason="回访发现问题复现",
                expected_version=self.sweep.version(case.hazard),
            )

    def _progress(self, n: int) -> None:
        case = self._case(n)
        if case is not None and case.order_id is not None:
            self.app.report_progress(
                self.sweep.acting_party(case.order),
                case.order,
                note=f"已完成 {10 * (n + 1)}%",
                expected_version=self.sweep.version(case.order),
            )

    def _spot_fix(self, n: int) -> None:
        case = self._case(n)
        if case is not None:
            self.app.fix_on_the_spot(
                CHEN_XIAOFENG,
                case.hazard,
                note="当场整改",
                evidence=[photo(f"当场整改{n}")],
                expected_version=self.sweep.version(case.hazard),
            )

    def _time(self, n: int) -> None:
        self.sweep.clock.advance(days=1 + n * 2)
        self.app.mark_overdue()

    def _project(self, n: int) -> None:
        if self.on_project is not None:
            self.on_project(n)
