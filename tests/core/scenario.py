"""The cast and the places of the seed story, and builders that arrange a case.

On 2022-04-18 张铭 (supervisor) and 陈小峰 (inspector) of the 安义县 disabled
persons' federation inspected the county's massage shops and a barbershop for
epidemic-control hazards. The builders here replay that sweep against the
application, one step of the workflow at a time, so a test can say "a major
case, verified" and start from there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from application.app import RectifyApp
from application.errors import ConcurrencyConflict
from domain.checklists import EPIDEMIC_2022, get_template
from domain.values import Actor, Evidence, FivePointPlan, ResponsibleParty, Role, Severity
from infrastructure.clock import ManualClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
SWEEP_STARTS = datetime(2022, 4, 18, 9, 0, tzinfo=SHANGHAI)
"""The morning of the sweep, 09:00 in 安义 (01:00 UTC)."""
SWEEP_DAY = date(2022, 4, 18)

REGION = "安义县"

# -- people ------------------------------------------------------------------------

ZHANG_MING = Actor(user_id="zhangming", name="张铭", role=Role.SUPERVISOR)
"""党组书记、理事长: led the sweep; a supervisor (负责人)."""
YU_JIANMING = Actor(user_id="yujianming", name="于建明", role=Role.SUPERVISOR)
"""A second supervisor, so a major case can be closed by someone other than its verifier."""
CHEN_XIAOFENG = Actor(user_id="chenxiaofeng", name="陈小峰", role=Role.INSPECTOR)
"""副理事长: inspected with 张铭; an inspector (检查员)."""
LIU_FANG = Actor(user_id="liufang", name="刘芳", role=Role.AUDITOR)
"""Reads and replays the record; changes nothing."""
TAO_BIAOYIN = Actor(user_id="taobiaoyin", name="陶表印", role=Role.RESPONSIBLE_PARTY)
"""Owner of 陶表印盲人按摩店, with an account of his own."""
YU_JIANHUA = Actor(user_id="yujianhua", name="喻建华", role=Role.RESPONSIBLE_PARTY)
"""Owner of 喻建华盲人按摩店, with an account of his own."""

# Everyone has a password, so a refused signed command is refused for its role,
# not for a missing password.
PASSWORDS = {
    ZHANG_MING.user_id: "zhangming-2022",
    YU_JIANMING.user_id: "yujianming-2022",
    CHEN_XIAOFENG.user_id: "chenxiaofeng-2022",
    LIU_FANG.user_id: "liufang-2022",
    TAO_BIAOYIN.user_id: "taobiaoyin-2022",
    YU_JIANHUA.user_id: "yujianhua-2022",
}

TAO_BIAOYIN_PARTY = ResponsibleParty(
    name="陶表印", contact="0791-83421001", user_id=TAO_BIAOYIN.user_id
)
YU_JIANHUA_PARTY = ResponsibleParty(
    name="喻建华", contact="0791-83421003", user_id=YU_JIANHUA.user_id
)
KANGSHUN_PARTY = ResponsibleParty(name="康顺盲人按摩店店主", contact="0791-83421002")
"""A small shop whose owner has no account: inspectors act on their behalf."""
WAN_PINGYING_PARTY = ResponsibleParty(name="万萍英", contact="0791-83421004")
HUOGEN_PARTY = ResponsibleParty(name="火根", contact="0791-83421005")

# -- places ------------------------------------------------------------------------

TAO_BIAOYIN_SHOP = "陶表印盲人按摩店"
KANGSHUN_SHOP = "康顺盲人按摩店"
YU_JIANHUA_SHOP = "喻建华盲人按摩店"
WAN_PINGYING_SHOP = "万萍英盲人按摩店"
HUOGEN_BARBERSHOP = "火根神剪理发店"

SITES: dict[str, dict[str, str]] = {
    TAO_BIAOYIN_SHOP: {"operator": "陶表印", "kind": "盲人按摩", "contact": "0791-83421001"},
    KANGSHUN_SHOP: {
        "operator": "康顺盲人按摩店店主",
        "kind": "盲人按摩",
        "contact": "0791-83421002",
    },
    YU_JIANHUA_SHOP: {"operator": "喻建华", "kind": "盲人按摩", "contact": "0791-83421003"},
    WAN_PINGYING_SHOP: {"operator": "万萍英", "kind": "盲人按摩", "contact": "0791-83421004"},
    HUOGEN_BARBERSHOP: {"operator": "火根", "kind": "理发", "contact": "0791-83421005"},
}

PARTY_OF_SITE: dict[str, ResponsibleParty] = {
    TAO_BIAOYIN_SHOP: TAO_BIAOYIN_PARTY,
    KANGSHUN_SHOP: KANGSHUN_PARTY,
    YU_JIANHUA_SHOP: YU_JIANHUA_PARTY,
    WAN_PINGYING_SHOP: WAN_PINGYING_PARTY,
    HUOGEN_BARBERSHOP: HUOGEN_PARTY,
}

CHECKLIST = get_template(EPIDEMIC_2022)
FAILED_ITEM = "staff-tested-every-two-days"
"""The hazard the sweep was looking for: staff not tested every two days."""


class FakePasswords:
    """Password checker for signatures: the supervisors' passwords of :data:`PASSWORDS`."""

    def __init__(self, passwords: dict[str, str] | None = None) -> None:
        self._passwords = dict(PASSWORDS if passwords is None else passwords)
        self.checked: list[str] = []

    def check_password(self, user_id: str, password: str) -> bool:
        self.checked.append(user_id)
        return self._passwords.get(user_id) == password


def password_of(actor: Actor) -> str:
    return PASSWORDS[actor.user_id]


def photo(name: str) -> Evidence:
    """Evidence as the events keep it: a photo's hash, name, type and size."""
    return Evidence(
        sha256=hashlib.sha256(name.encode("utf-8")).hexdigest(),
        name=f"{name}.jpg",
        media_type="image/jpeg",
        size=48_000 + len(name),
    )


def five_point_plan(party: ResponsibleParty, deadline: date) -> FivePointPlan:
    """五落实 for a major hazard's order."""
    return FivePointPlan(
        responsible_person=party.name,
        measures="全体经营人员每两天一次核酸检测，检测记录张贴公示",
        funds="店主自筹 800 元",
        deadline=deadline,
        contingency_plan="未按期检测即暂停营业，直至检测结果为阴性",
    )


# -- the stages of a case, in workflow order ---------------------------------------


class Stage(IntEnum):
    """How far :meth:`Sweep.arrange_case` takes a case."""

    INSPECTION_OPEN = 1
    ITEMS_RECORDED = 2  # every item recorded, the failed one among them
    HAZARD_REPORTED = 3
    ORDER_ISSUED = 4
    ACKNOWLEDGED = 5
    COMPLETION_REPORTED = 6
    VERIFIED = 7
    CLOSED = 8


@dataclass
class Case:
    """The ids of what a case consists of, as far as it was arranged."""

    site_id: UUID
    inspection_id: UUID
    severity: Severity
    party: ResponsibleParty
    hazard_id: UUID | None = None
    order_id: UUID | None = None
    verification_ids: list[UUID] = field(default_factory=list)

    @property
    def hazard(self) -> UUID:
        assert self.hazard_id is not None, "the case has no hazard yet"
        return self.hazard_id

    @property
    def order(self) -> UUID:
        assert self.order_id is not None, "the case has no order yet"
        return self.order_id


class Sweep:
    """The 2022-04-18 inspection sweep, run against one application.

    Each builder acts as the person who would act in the workflow and bases
    its command on the aggregate's current version, as a client would.
    """

    def __init__(self, app: RectifyApp, clock: ManualClock) -> None:
        self.app = app
        self.clock = clock
        self._site_ids: dict[str, UUID] = {}

    # -- reading --------------------------------------------------------------------

    def version(self, aggregate_id: UUID) -> int:
        return self.app.repository.get(aggregate_id).version

    def log_position(self) -> int:
        """The last notification id of the log (0 when it is empty)."""
        return self.app.recorder.max_notification_id() or 0

    def events_since(self, position: int) -> list[Any]:
        """The domain events recorded after ``position``, in log order."""
        notifications = self.app.recorder.select_notifications(start=position + 1, limit=10_000)
        return [self.app.mapper.to_domain_event(n) for n in notifications]

    def today(self) -> date:
        return self.app.today()

    @contextmanager
    def refuses(self, error: type[Exception], rule: str) -> Iterator[pytest.ExceptionInfo[Any]]:
        """Expect the command in the block to raise ``error`` for ``rule`` and record nothing."""
        before = self.log_position()
        with pytest.raises(error) as info:
            yield info
        assert getattr(info.value, "rule", None) == rule, f"{info.value!r} is not {rule}"
        assert self.log_position() == before, "a refused command recorded an event"

    @contextmanager
    def loses_race(self, rival_command: Callable[[], object], *rival_events: str) -> Iterator[None]:
        """Expect the command in the block to lose a race to ``rival_command``.

        The rival commits just before the block's command saves (see
        :func:`losing_race`); the command must then fail as a concurrent write and
        the log hold only the rival's events, of the ``rival_events`` kinds.
        """
        before = self.log_position()
        with losing_race(self.app, rival_command), pytest.raises(ConcurrencyConflict) as info:
            yield
        assert info.value.rule == "concurrent_write"
        recorded = [type(e).__qualname__ for e in self.events_since(before)]
        assert recorded == list(rival_events), "the command that lost the race recorded events"

    # -- sites and inspections ------------------------------------------------------

    def site(self, name: str = TAO_BIAOYIN_SHOP) -> UUID:
        """The site's id, registering it (as 陈小峰) the first time it is asked for."""
        if name not in self._site_ids:
            details = SITES[name]
            self._site_ids[name] = self.app.register_site(
                CHEN_XIAOFENG,
                name=name,
                region=REGION,
                address=f"{REGION}县城 {name}",
                operator=details["operator"],
                contact=details["contact"],
                kind=details["kind"],
            )
        return self._site_ids[name]

    def open_inspection(self, site: str = TAO_BIAOYIN_SHOP, by: Actor = CHEN_XIAOFENG) -> UUID:
        team = [ZHANG_MING, CHEN_XIAOFENG]
        return self.app.open_inspection(
            by, site_id=self.site(site), template_code=EPIDEMIC_2022, inspectors=team
        )

    def record(
        self,
        inspection_id: UUID,
        item_code: str,
        result: str,
        note: str = "",
        by: Actor = CHEN_XIAOFENG,
    ) -> int | None:
        return self.app.record_item(
            by,
            inspection_id,
            item_code=item_code,
            result=result,
            note=note,
            expected_version=self.version(inspection_id),
        )

    def record_all(
        self, inspection_id: UUID, failed: tuple[str, ...] = (FAILED_ITEM,), skip: str = ""
    ) -> None:
        """Record every item (but ``skip``): ``failed`` ones fail, the rest pass."""
        for code in CHECKLIST.item_codes:
            if code == skip:
                continue
            if code in failed:
                self.record(inspection_id, code, "fail", note="店员核酸检测记录缺 4 月 14 日一次")
            else:
                self.record(inspection_id, code, "pass")

    def report_hazard(
        self,
        inspection_id: UUID,
        severity: Severity = Severity.GENERAL,
        item_code: str | None = FAILED_ITEM,
        by: Actor = CHEN_XIAOFENG,
    ) -> UUID:
        return self.app.report_hazard(
            by,
            inspection_id,
            category="疫情防控",
            description="经营人员未按要求两天一次核酸检测",
            severity=severity,
            item_code=item_code,
            location="前台",
            evidence=[photo("核酸检测记录")],
            expected_version=self.version(inspection_id),
        )

    # -- orders ---------------------------------------------------------------------

    def issue_order(
        self,
        hazard_id: UUID,
        party: ResponsibleParty = TAO_BIAOYIN_PARTY,
        deadline: date | None = None,
        by: Actor = CHEN_XIAOFENG,
        plan: FivePointPlan | None = None,
    ) -> UUID:
        """Issue an order; a major hazard's order gets a five-point plan unless one is given."""
        hazard = self.app.get_hazard(hazard_id)
        if plan is None and hazard.severity == Severity.MAJOR:
            plan = five_point_plan(party, self.today() + timedelta(days=30))
        return self.app.issue_order(
            by,
            hazard_id,
            party=party,
            measures="立即组织全体经营人员核酸检测，今后两天一次并登记",
            deadline=deadline,
            five_point_plan=plan,
            expected_version=hazard.version,
        )

    def acting_party(self, order_id: UUID) -> Actor:
        """Who acts for the order's party: the owner if they have an account, else 陈小峰."""
        party = self.app.get_order(order_id).party
        if party.user_id is None:
            return CHEN_XIAOFENG
        return Actor(user_id=party.user_id, name=party.name, role=Role.RESPONSIBLE_PARTY)

    def acknowledge(self, order_id: UUID, by: Actor | None = None) -> int | None:
        return self.app.acknowledge_order(
            by or self.acting_party(order_id), order_id, expected_version=self.version(order_id)
        )

    def report_completion(self, order_id: UUID, by: Actor | None = None) -> int | None:
        return self.app.report_completion(
            by or self.acting_party(order_id),
            order_id,
            note="全体经营人员 4 月 19 日已完成核酸检测，结果阴性",
            evidence=[photo("核酸检测报告")],
            expected_version=self.version(order_id),
        )

    def request_extension(
        self, order_id: UUID, new_deadline: date, by: Actor | None = None
    ) -> int | None:
        return self.app.request_extension(
            by or self.acting_party(order_id),
            order_id,
            new_deadline=new_deadline,
            reason="检测点排队，需延后三天",
            expected_version=self.version(order_id),
        )

    # -- verification and closing ---------------------------------------------------

    def verify(
        self,
        hazard_id: UUID,
        passed: bool = True,
        by: Actor = CHEN_XIAOFENG,
        new_deadline: date | None = None,
    ) -> UUID:
        return self.app.verify(
            by,
            hazard_id,
            passed=passed,
            findings="复查：检测记录齐全" if passed else "复查：仍缺一名店员的检测记录",
            evidence=[photo("复查照片")],
            new_deadline=new_deadline,
            expected_version=self.version(hazard_id),
        )

    def close(self, hazard_id: UUID, by: Actor = ZHANG_MING) -> int | None:
        return self.app.close_case(
            by,
            hazard_id,
            reason="复查合格，准予销号",
            password=password_of(by),
            expected_version=self.version(hazard_id),
        )

    # -- a whole case ---------------------------------------------------------------

    def arrange_case(
        self,
        stage: Stage,
        severity: Severity = Severity.GENERAL,
        site: str = TAO_BIAOYIN_SHOP,
        party: ResponsibleParty | None = None,
        verifier: Actor = CHEN_XIAOFENG,
        closer: Actor | None = None,
    ) -> Case:
        """Take a new case of ``site`` through the workflow up to ``stage``.

        The inspection stays open (so more hazards can be reported from it). A
        major case is verified by ``verifier`` and closed by the other supervisor.
        """
        party = party or PARTY_OF_SITE[site]
        case = Case(
            site_id=self.site(site),
            inspection_id=self.open_inspection(site),
            severity=severity,
            party=party,
        )
        steps: list[tuple[Stage, Callable[[], None]]] = [
            (Stage.ITEMS_RECORDED, lambda: self.record_all(case.inspection_id)),
            (
                Stage.HAZARD_REPORTED,
                lambda: setattr(
                    case, "hazard_id", self.report_hazard(case.inspection_id, severity)
                ),
            ),
            (
                Stage.ORDER_ISSUED,
                lambda: setattr(case, "order_id", self.issue_order(case.hazard, party)),
            ),
            (Stage.ACKNOWLEDGED, lambda: self.acknowledge(case.order)),
            (Stage.COMPLETION_REPORTED, lambda: self.report_completion(case.order)),
            (
                Stage.VERIFIED,
                lambda: case.verification_ids.append(self.verify(case.hazard, by=verifier)),
            ),
            (
                Stage.CLOSED,
                lambda: self.close(case.hazard, by=closer or other_supervisor(verifier)),
            ),
        ]
        for step_stage, step in steps:
            if step_stage > stage:
                break
            step()
        return case


def other_supervisor(actor: Actor) -> Actor:
    """A supervisor who is not ``actor``: 张铭, unless ``actor`` is 张铭."""
    return YU_JIANMING if actor.user_id == ZHANG_MING.user_id else ZHANG_MING


@contextmanager
def losing_race(app: RectifyApp, rival_command: Callable[[], object]) -> Iterator[list[object]]:
    """Let ``rival_command`` commit just before ``app``'s next save.

    That is the moment a concurrent request from another process would have to
    commit for this one to lose the race: after this command loaded its
    aggregates, before it saved them. ``rival_command`` may use ``app`` itself
    (the in-memory store has no second process) or another application on the
    same database. Yields a list that holds the rival's result once it ran.
    """
    original_save = app.save
    results: list[object] = []
    started = False

    def save(*objs: Any, **kwargs: Any) -> Any:
        nonlocal started
        if not started:
            # Set first: on the in-memory store the rival saves through this same app.
            started = True
            results.append(rival_command())
        return original_save(*objs, **kwargs)

    app.save = save  # type: ignore[method-assign]
    try:
        yield results
    finally:
        del app.save
