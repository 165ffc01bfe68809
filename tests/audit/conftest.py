"""Fixtures of the audit suites: an application and its audit service on each
backend, with the 2022-04-18 sweep's builders and a few cases of every kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import pytest

from application.app import RectifyApp
from application.audit import AuditService
from domain.values import Severity
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, build_audit
from tests.core.scenario import (
    CHEN_XIAOFENG,
    KANGSHUN_SHOP,
    SWEEP_STARTS,
    YU_JIANHUA_SHOP,
    ZHANG_MING,
    FakePasswords,
    Stage,
    Sweep,
    other_supervisor,
    password_of,
    photo,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SWEEP_STARTS)


def open_app(url: str, clock: ManualClock) -> RectifyApp:
    return build_app(url, clock=clock, passwords=FakePasswords())


@pytest.fixture
def app(database_url: str, clock: ManualClock) -> Iterator[RectifyApp]:
    """The application on a fresh store, once per backend (popo, SQLite, PostgreSQL)."""
    application = open_app(database_url, clock)
    yield application
    application.close()


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    return Sweep(app, clock)


@pytest.fixture
def audit(app: RectifyApp) -> AuditService:
    return build_audit(app)


@dataclass
class History:
    """A log with a case of each kind, written an hour apart, for the audit to read.

    ``major`` went through an extension, a failed and a passed verification and
    was closed; ``spot`` was fixed on the spot and verified; ``dismissed`` had its
    order cancelled with it.
    """

    major: UUID
    major_order: UUID
    spot: UUID
    dismissed: UUID
    dismissed_order: UUID


def write_history(sweep: Sweep, clock: ManualClock) -> History:
    """Arrange the cases of :class:`History`, moving the clock an hour per step."""
    app = sweep.app
    major = sweep.arrange_case(Stage.ACKNOWLEDGED, severity=Severity.MAJOR, site=YU_JIANHUA_SHOP)
    clock.advance(hours=1)
    sweep.request_extension(major.order, app.get_order(major.order).deadline + timedelta(days=3))
    clock.advance(hours=1)
    app.grant_extension(
        ZHANG_MING,
        major.order,
        reason="检测点排队属实",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(major.order),
    )
    clock.advance(hours=1)
    sweep.report_completion(major.order)
    clock.advance(hours=1)
    sweep.verify(major.hazard, passed=False)
    clock.advance(hours=1)
    sweep.report_completion(major.order)
    clock.advance(hours=1)
    sweep.verify(major.hazard, passed=True, by=ZHANG_MING)
    clock.advance(hours=1)
    sweep.close(major.hazard, by=other_supervisor(ZHANG_MING))

    clock.advance(hours=1)
    spot = sweep.arrange_case(Stage.HAZARD_REPORTED, site=KANGSHUN_SHOP)
    clock.advance(hours=1)
    app.fix_on_the_spot(
        CHEN_XIAOFENG,
        spot.hazard,
        note="当场补登记",
        evidence=[photo("当场整改照片")],
        expected_version=sweep.version(spot.hazard),
    )
    clock.advance(hours=1)
    sweep.verify(spot.hazard)

    clock.advance(hours=1)
    dismissed = sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.advance(hours=1)
    app.dismiss_hazard(
        ZHANG_MING,
        dismissed.hazard,
        reason="体温计在柜台下，误报",
        expected_version=sweep.version(dismissed.hazard),
    )
    return History(
        major=major.hazard,
        major_order=major.order,
        spot=spot.hazard,
        dismissed=dismissed.hazard,
        dismissed_order=dismissed.order,
    )


@pytest.fixture
def history(sweep: Sweep, clock: ManualClock) -> History:
    return write_history(sweep, clock)
