"""One test per rule of the product, named after the rule.

Each runs on the in-memory store, SQLite and PostgreSQL (the ``app`` fixture).
A refused command is checked for its rule and for having recorded nothing:
the log's last notification id is the same before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from application.app import RectifyApp
from application.errors import SignatureRejected, StaleVersion
from domain.errors import IllegalTransition, InvalidCommand, NotPermitted
from domain.hazard import HazardStatus
from domain.inspection import InspectionStatus, ItemResult
from domain.order import OrderStatus
from domain.values import (
    SYSTEM_ACTOR,
    Actor,
    Role,
    Severity,
    Signature,
    SignatureMeaning,
)
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.core.scenario import (
    CHECKLIST,
    CHEN_XIAOFENG,
    FAILED_ITEM,
    KANGSHUN_PARTY,
    KANGSHUN_SHOP,
    LIU_FANG,
    REGION,
    SWEEP_DAY,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    TAO_BIAOYIN_PARTY,
    YU_JIANHUA,
    YU_JIANHUA_PARTY,
    YU_JIANHUA_SHOP,
    YU_JIANMING,
    ZHANG_MING,
    FakePasswords,
    Stage,
    Sweep,
    five_point_plan,
    losing_race,
    password_of,
    photo,
)


def kinds(events: list[Any]) -> list[str]:
    """Event types as ``Aggregate.Event`` names."""
    return [type(e).__qualname__ for e in events]


def only(events: list[Any], kind: str) -> Any:
    """The one event of ``kind`` among ``events``."""
    found = [e for e in events if type(e).__qualname__ == kind]
    assert len(found) == 1, f"expected one {kind}, found {kinds(events)}"
    return found[0]


# -- closing a case (销号) ------------------------------------------------------------


def test_case_closes_only_from_verified(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.COMPLETION_REPORTED)

    for stage_case in (sweep.arrange_case(Stage.HAZARD_REPORTED), case):
        with sweep.refuses(IllegalTransition, "case_closes_only_from_verified"):
            sweep.close(stage_case.hazard)

    sweep.verify(case.hazard)
    before = sweep.log_position()
    sweep.close(case.hazard)

    assert kinds(sweep.events_since(before)) == ["Hazard.Closed"]
    assert sweep.app.get_hazard(case.hazard).status == HazardStatus.CLOSED
    with sweep.refuses(IllegalTransition, "case_closes_only_from_verified"):
        sweep.close(case.hazard)


def test_case_closes_only_by_a_supervisor(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.VERIFIED)

    for actor in (CHEN_XIAOFENG, TAO_BIAOYIN, LIU_FANG):
        with sweep.refuses(NotPermitted, "case_closes_only_by_supervisor"):
            sweep.close(case.hazard, by=actor)
    assert sweep.app.get_hazard(case.hazard).status == HazardStatus.VERIFIED

    sweep.close(case.hazard, by=YU_JIANMING)
    closed = sweep.app.get_hazard(case.hazard)
    assert closed.status == HazardStatus.CLOSED


def test_major_case_is_not_closed_by_its_verifier(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.VERIFIED, Severity.MAJOR, verifier=ZHANG_MING)
    assert sweep.app.get_hazard(case.hazard).verified_by == ZHANG_MING.user_id

    with sweep.refuses(NotPermitted, "major_case_closer_is_not_verifier"):
        sweep.close(case.hazard, by=ZHANG_MING)

    before = sweep.log_position()
    sweep.close(case.hazard, by=YU_JIANMING)
    closed = only(sweep.events_since(before), "Hazard.Closed")
    assert closed.actor == YU_JIANMING

    # A general case carries no such rule: its verifier may close it.
    general = sweep.arrange_case(Stage.VERIFIED, verifier=ZHANG_MING)
    sweep.close(general.hazard, by=ZHANG_MING)
    assert sweep.app.get_hazard(general.hazard).status == HazardStatus.CLOSED


def test_close_is_signed_with_signer_time_and_meaning(sweep: Sweep, clock: ManualClock) -> None:
    case = sweep.arrange_case(Stage.VERIFIED)
    clock.advance(days=3, hours=2)
    before = sweep.log_position()

    sweep.close(case.hazard, by=ZHANG_MING)

    closed = only(sweep.events_since(before), "Hazard.Closed")
    assert closed.signature == Signature(
        signer_id="zhangming",
        signer_name="张铭",
        meaning=SignatureMeaning.CLOSED_AS_RECTIFIED,
        signed_at=clock(),
    )
    assert closed.reason == "复查合格，准予销号"
    assert closed.actor == ZHANG_MING
    assert closed.timestamp == clock()
    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.closed_at == clock()
    assert sweep.app.passwords.checked[-1] == "zhangming"  # type: ignore[union-attr]


def test_wrong_password_signs_nothing(sweep: Sweep) -> None:
    verified = sweep.arrange_case(Stage.VERIFIED)
    with sweep.refuses(SignatureRejected, "signature_rejected"):
        sweep.app.close_case(
            ZHANG_MING,
            verified.hazard,
            reason="复查合格",
            password="not-his-password",
            expected_version=sweep.version(verified.hazard),
        )
    assert sweep.app.get_hazard(verified.hazard).status == HazardStatus.VERIFIED

    extending = sweep.arrange_case(Stage.ACKNOWLEDGED)
    sweep.request_extension(extending.order, SWEEP_DAY + timedelta(days=10))
    with sweep.refuses(SignatureRejected, "signature_rejected"):
        sweep.app.grant_extension(
            ZHANG_MING,
            extending.order,
            reason="同意",
            password="",
            expected_version=sweep.version(extending.order),
        )
    order = sweep.app.get_order(extending.order)
    assert order.deadline == SWEEP_DAY + timedelta(days=7)
    assert order.pending_extension is not None


# -- verification and completion reports (复查) ----------------------------------------


def test_no_verification_before_a_completion_report(sweep: Sweep) -> None:
    for stage in (Stage.HAZARD_REPORTED, Stage.ORDER_ISSUED, Stage.ACKNOWLEDGED):
        case = sweep.arrange_case(stage)
        with sweep.refuses(IllegalTransition, "no_verification_before_completion_report"):
            sweep.verify(case.hazard)

    case = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    sweep.verify(case.hazard)
    # Once verified there is no completion report left to verify.
    with sweep.refuses(IllegalTransition, "no_verification_before_completion_report"):
        sweep.verify(case.hazard)


def test_passed_verification_fulfils_order_and_verifies_hazard(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    before = sweep.log_position()

    verification_id = sweep.verify(case.hazard, by=ZHANG_MING)

    events = sweep.events_since(before)
    assert kinds(events) == [
        "Verification.Performed",
        "RectificationOrder.Fulfilled",
        "Hazard.VerificationPassed",
    ]
    assert events[0].passed is True and events[0].order_id == case.order
    verification = sweep.app.get_verification(verification_id)
    assert verification.verifier == ZHANG_MING and verification.attempt == 1
    assert sweep.app.get_order(case.order).status == OrderStatus.FULFILLED
    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.status == HazardStatus.VERIFIED
    assert hazard.verification_ids == [verification_id]
    assert hazard.open_order_id is None


def test_no_completion_report_on_a_fulfilled_or_cancelled_order(sweep: Sweep) -> None:
    fulfilled = sweep.arrange_case(Stage.VERIFIED)
    assert sweep.app.get_order(fulfilled.order).status == OrderStatus.FULFILLED
    with sweep.refuses(IllegalTransition, "no_completion_report_on_closed_order"):
        sweep.report_completion(fulfilled.order)

    dismissed = sweep.arrange_case(Stage.ACKNOWLEDGED)
    sweep.app.dismiss_hazard(
        ZHANG_MING,
        dismissed.hazard,
        reason="误报：检测记录在店主手机上",
        expected_version=sweep.version(dismissed.hazard),
    )
    assert sweep.app.get_order(dismissed.order).status == OrderStatus.CANCELLED
    with sweep.refuses(IllegalTransition, "no_completion_report_on_closed_order"):
        sweep.report_completion(dismissed.order)


def test_verifier_is_not_the_responsible_party(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    # 陶表印 also volunteers as an inspector: he still may not verify his own order.
    tao_as_inspector = Actor(user_id=TAO_BIAOYIN.user_id, name="陶表印", role=Role.INSPECTOR)

    with sweep.refuses(NotPermitted, "verifier_is_not_responsible_party"):
        sweep.verify(case.hazard, by=tao_as_inspector)
    with sweep.refuses(NotPermitted, "verify_role"):
        sweep.verify(case.hazard, by=TAO_BIAOYIN)

    verification_id = sweep.verify(case.hazard, by=CHEN_XIAOFENG)
    assert sweep.app.get_verification(verification_id).verifier == CHEN_XIAOFENG


def test_failed_verification_reopens_order_with_new_deadline_and_attempt_count(
    sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    first_deadline = SWEEP_DAY + timedelta(days=7)
    clock.advance(days=2)
    before = sweep.log_position()

    failed_id = sweep.verify(case.hazard, passed=False)

    events = sweep.events_since(before)
    assert kinds(events) == [
        "Verification.Performed",
        "RectificationOrder.ReopenedAfterFailedVerification",
        "Hazard.VerificationFailed",
    ]
    reopened = events[1]
    # By default the new deadline is as long again as the severity gives, from today.
    assert reopened.old_deadline == first_deadline
    assert reopened.new_deadline == date(2022, 4, 20) + timedelta(days=7)
    assert reopened.attempt == 2
    assert reopened.verification_id == failed_id
    order = sweep.app.get_order(case.order)
    assert (order.status, order.attempt, order.deadline) == (
        OrderStatus.ACKNOWLEDGED,
        2,
        date(2022, 4, 27),
    )
    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.status == HazardStatus.RECTIFYING
    assert hazard.open_order_id == case.order
    failed = sweep.app.get_verification(failed_id)
    assert failed.passed is False and failed.attempt == 1

    # The second attempt fails too, with a deadline the verifier chose.
    sweep.report_completion(case.order)
    sweep.verify(case.hazard, passed=False, new_deadline=date(2022, 5, 6))
    order = sweep.app.get_order(case.order)
    assert (order.attempt, order.deadline) == (3, date(2022, 5, 6))

    # A new deadline must lie ahead.
    sweep.report_completion(case.order)
    with sweep.refuses(InvalidCommand, "deadline_in_past"):
        sweep.verify(case.hazard, passed=False, new_deadline=date(2022, 4, 20))

    passed_id = sweep.verify(case.hazard, passed=True)
    assert sweep.app.get_verification(passed_id).attempt == 3
    assert sweep.app.get_order(case.order).status == OrderStatus.FULFILLED


# -- orders (整改通知) ------------------------------------------------------------------


def test_one_open_order_per_hazard_at_a_time(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)

    with sweep.refuses(IllegalTransition, "one_open_order_per_hazard"):
        sweep.issue_order(case.hazard)
    sweep.acknowledge(case.order)
    sweep.report_completion(case.order)
    sweep.verify(case.hazard, passed=False)  # the order stays open after a failed check
    with sweep.refuses(IllegalTransition, "one_open_order_per_hazard"):
        sweep.issue_order(case.hazard)

    sweep.report_completion(case.order)
    sweep.verify(case.hazard, passed=True)
    sweep.close(case.hazard)
    sweep.app.reopen_case(
        YU_JIANMING,
        case.hazard,
        reason="群众举报仍未检测",
        expected_version=sweep.version(case.hazard),
    )
    second = sweep.issue_order(case.hazard)

    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.order_ids == [case.order, second]
    assert hazard.open_order_id == second
    with sweep.refuses(IllegalTransition, "one_open_order_per_hazard"):
        sweep.issue_order(case.hazard)


def test_order_numbers_unique_per_year(sweep: Sweep, clock: ManualClock, rival: RectifyApp) -> None:
    hazards = [sweep.arrange_case(Stage.HAZARD_REPORTED).hazard for _ in range(4)]
    orders = [sweep.issue_order(h) for h in hazards[:2]]
    assert [sweep.app.get_order(o).number for o in orders] == ["2022-0001", "2022-0002"]

    # Another process issues an order after this one took its number: this one
    # takes the next number instead of failing or sharing one.
    rival_sweep = Sweep(rival, clock)
    with losing_race(sweep.app, lambda: rival_sweep.issue_order(hazards[3])) as rival_result:
        third = sweep.issue_order(hazards[2])
    assert sweep.app.get_order(rival_result[0]).number == "2022-0003"  # type: ignore[arg-type]
    assert sweep.app.get_order(third).number == "2022-0004"

    issued = only(
        [e for e in sweep.events_since(0) if e.originator_id == hazards[2]], "Hazard.OrderIssued"
    )
    assert (issued.order_id, issued.number) == (third, "2022-0004")

    # 00:30 on New Year's day in 安义 is still 2022 in UTC: the local year counts.
    clock.set(datetime(2022, 12, 31, 16, 30, tzinfo=UTC))
    next_year = sweep.arrange_case(Stage.ORDER_ISSUED)
    later = sweep.arrange_case(Stage.ORDER_ISSUED)
    assert sweep.app.get_order(next_year.order).number == "2023-0001"
    assert sweep.app.get_order(later.order).number == "2023-0002"


def test_deadline_defaults_from_severity(
    sweep: Sweep, database_url: str, clock: ManualClock
) -> None:
    general = sweep.arrange_case(Stage.ORDER_ISSUED, Severity.GENERAL)
    major = sweep.arrange_case(Stage.ORDER_ISSUED, Severity.MAJOR)
    assert sweep.app.get_order(general.order).deadline == date(2022, 4, 25)
    assert sweep.app.get_order(major.order).deadline == date(2022, 5, 18)

    # "Today" is the date in 安义: 00:30 on 04-19 there is still 04-18 in UTC.
    clock.set(datetime(2022, 4, 18, 16, 30, tzinfo=UTC))
    late = sweep.arrange_case(Stage.ORDER_ISSUED)
    assert sweep.app.get_order(late.order).deadline == date(2022, 4, 26)

    explicit = sweep.arrange_case(Stage.HAZARD_REPORTED)
    order_id = sweep.issue_order(explicit.hazard, deadline=date(2022, 4, 22))
    assert sweep.app.get_order(order_id).deadline == date(2022, 4, 22)
    too_soon = sweep.arrange_case(Stage.HAZARD_REPORTED).hazard
    with sweep.refuses(InvalidCommand, "deadline_in_past"):
        sweep.issue_order(too_soon, deadline=date(2022, 4, 19))

    configured = build_app(
        database_url,
        clock=clock,
        passwords=FakePasswords(),
        settings={"DEADLINE_DAYS_GENERAL": "3", "DEADLINE_DAYS_MAJOR": "15"},
    )
    try:
        other = Sweep(configured, clock)
        short = other.arrange_case(Stage.ORDER_ISSUED, Severity.GENERAL)
        longer = other.arrange_case(Stage.ORDER_ISSUED, Severity.MAJOR)
        assert configured.get_order(short.order).deadline == date(2022, 4, 22)
        assert configured.get_order(longer.order).deadline == date(2022, 5, 4)
    finally:
        configured.close()


def test_deadline_is_locked_once_issued_only_a_granted_extension_moves_it(
    sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    issued_deadline = date(2022, 4, 25)

    # Re-grading the hazard does not move the issued order's deadline.
    sweep.app.regrade_hazard(
        ZHANG_MING,
        case.hazard,
        severity=Severity.MAJOR,
        reason="涉及全部 6 名经营人员",
        expected_version=sweep.version(case.hazard),
    )
    clock.advance(days=2)
    sweep.app.report_progress(
        TAO_BIAOYIN, case.order, note="已预约检测", expected_version=sweep.version(case.order)
    )
    sweep.request_extension(case.order, date(2022, 4, 28))
    assert sweep.app.get_order(case.order).deadline == issued_deadline
    sweep.app.deny_extension(
        YU_JIANMING,
        case.order,
        reason="检测点已不排队",
        expected_version=sweep.version(case.order),
    )
    assert sweep.app.get_order(case.order).deadline == issued_deadline

    sweep.request_extension(case.order, date(2022, 4, 28))
    sweep.app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点临时关闭",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )
    order = sweep.app.get_order(case.order)
    assert order.deadline == date(2022, 4, 28)

    deadline_moves = [
        e
        for e in sweep.events_since(0)
        if e.originator_id == case.order
        and hasattr(e, "new_deadline")
        and type(e).__qualname__ != "RectificationOrder.ExtensionRequested"
    ]
    assert kinds(deadline_moves) == ["RectificationOrder.ExtensionGranted"]
    assert (deadline_moves[0].old_deadline, deadline_moves[0].new_deadline) == (
        issued_deadline,
        date(2022, 4, 28),
    )


def test_major_order_carries_the_five_point_plan(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED, Severity.MAJOR)
    with sweep.refuses(InvalidCommand, "major_order_needs_five_point_plan"):
        sweep.app.issue_order(
            CHEN_XIAOFENG,
            case.hazard,
            party=TAO_BIAOYIN_PARTY,
            measures="立即检测",
            expected_version=sweep.version(case.hazard),
        )

    plan = five_point_plan(TAO_BIAOYIN_PARTY, date(2022, 5, 18))
    before = sweep.log_position()
    order_id = sweep.issue_order(case.hazard, plan=plan)

    issued = only(sweep.events_since(before), "RectificationOrder.Issued")
    assert issued.five_point_plan == plan
    assert issued.severity == "major"
    order = sweep.app.get_order(order_id)
    assert order.five_point_plan == plan
    assert order.five_point_plan.funds == "店主自筹 800 元"

    general = sweep.arrange_case(Stage.ORDER_ISSUED, Severity.GENERAL)
    assert sweep.app.get_order(general.order).five_point_plan is None


def test_extension_requested_granted_and_denied(sweep: Sweep, clock: ManualClock) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)

    with sweep.refuses(IllegalTransition, "no_pending_extension"):
        sweep.app.deny_extension(
            ZHANG_MING, case.order, reason="无申请", expected_version=sweep.version(case.order)
        )
    with sweep.refuses(InvalidCommand, "extension_must_move_deadline_later"):
        sweep.request_extension(case.order, date(2022, 4, 25))

    before = sweep.log_position()
    sweep.request_extension(case.order, date(2022, 4, 28))
    requested = only(sweep.events_since(before), "RectificationOrder.ExtensionRequested")
    assert (requested.new_deadline, requested.reason, requested.actor, requested.on_behalf) == (
        date(2022, 4, 28),
        "检测点排队，需延后三天",
        TAO_BIAOYIN,
        False,
    )
    assert sweep.app.get_order(case.order).pending_extension["new_deadline"] == date(2022, 4, 28)
    with sweep.refuses(IllegalTransition, "one_pending_extension"):
        sweep.request_extension(case.order, date(2022, 4, 29))
    for actor in (CHEN_XIAOFENG, TAO_BIAOYIN):
        with sweep.refuses(NotPermitted, "extension_by_supervisor"):
            sweep.app.deny_extension(
                actor, case.order, reason="不同意", expected_version=sweep.version(case.order)
            )

    before = sweep.log_position()
    sweep.app.deny_extension(
        YU_JIANMING,
        case.order,
        reason="检测点已不排队",
        expected_version=sweep.version(case.order),
    )
    denied = only(sweep.events_since(before), "RectificationOrder.ExtensionDenied")
    assert (denied.requested_deadline, denied.reason, denied.actor) == (
        date(2022, 4, 28),
        "检测点已不排队",
        YU_JIANMING,
    )
    order = sweep.app.get_order(case.order)
    assert order.pending_extension is None and order.deadline == date(2022, 4, 25)

    sweep.request_extension(case.order, date(2022, 4, 30))
    clock.advance(hours=5)
    with sweep.refuses(NotPermitted, "extension_by_supervisor"):
        sweep.app.grant_extension(
            CHEN_XIAOFENG,
            case.order,
            reason="同意",
            password=password_of(CHEN_XIAOFENG),
            expected_version=sweep.version(case.order),
        )
    before = sweep.log_position()
    sweep.app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点临时关闭",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )
    granted = only(sweep.events_since(before), "RectificationOrder.ExtensionGranted")
    assert (granted.old_deadline, granted.new_deadline, granted.reason) == (
        date(2022, 4, 25),
        date(2022, 4, 30),
        "检测点临时关闭",
    )
    assert granted.signature == Signature(
        signer_id="zhangming",
        signer_name="张铭",
        meaning=SignatureMeaning.EXTENSION_GRANTED,
        signed_at=clock(),
    )
    order = sweep.app.get_order(case.order)
    assert order.deadline == date(2022, 4, 30) and order.pending_extension is None


def test_overdue_is_an_event_recorded_once_per_deadline(sweep: Sweep, clock: ManualClock) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    reported = sweep.arrange_case(Stage.COMPLETION_REPORTED, site=YU_JIANHUA_SHOP)

    clock.set(datetime(2022, 4, 25, 15, 0, tzinfo=UTC))  # 23:00 on the deadline day in 安义
    before = sweep.log_position()
    assert sweep.app.mark_overdue().marked == []
    assert sweep.log_position() == before

    clock.advance(hours=2)  # 01:00 on 04-26 in 安义
    report = sweep.app.mark_overdue()
    assert report.marked == [case.order] and report.escalated == []
    overdue = sweep.events_since(before)
    assert kinds(overdue) == ["RectificationOrder.BecameOverdue"]
    assert overdue[0].deadline == date(2022, 4, 25)
    assert overdue[0].actor == SYSTEM_ACTOR and overdue[0].timestamp == clock()
    assert sweep.app.get_order(case.order).is_overdue
    assert reported.order not in report.marked  # a completion report is not overdue

    clock.advance(days=1)
    position = sweep.log_position()
    assert sweep.app.mark_overdue().marked == []
    assert sweep.log_position() == position

    # A granted extension gives a new deadline, which can be missed in its turn.
    sweep.request_extension(case.order, date(2022, 4, 30))
    sweep.app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="同意延期",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )
    assert not sweep.app.get_order(case.order).is_overdue
    assert sweep.app.mark_overdue().marked == []
    clock.set(datetime(2022, 5, 1, 1, 0, tzinfo=UTC))
    position = sweep.log_position()
    assert sweep.app.mark_overdue().marked == [case.order]
    again = only(sweep.events_since(position), "RectificationOrder.BecameOverdue")
    assert again.deadline == date(2022, 4, 30)
    assert sweep.app.mark_overdue().marked == []


def test_major_overdue_order_is_escalated_to_supervisors(sweep: Sweep, clock: ManualClock) -> None:
    major = sweep.arrange_case(Stage.ORDER_ISSUED, Severity.MAJOR)
    regraded = sweep.arrange_case(Stage.ORDER_ISSUED, Severity.GENERAL, site=YU_JIANHUA_SHOP)
    sweep.app.regrade_hazard(
        ZHANG_MING,
        regraded.hazard,
        severity="major",
        reason="店员已出现发热症状",
        expected_version=sweep.version(regraded.hazard),
    )

    clock.set(datetime(2022, 4, 26, 1, 0, tzinfo=UTC))
    before = sweep.log_position()
    report = sweep.app.mark_overdue()
    # The re-graded hazard is major now; its order, general when issued, is escalated.
    assert report.marked == report.escalated == [regraded.order]
    assert kinds(sweep.events_since(before)) == [
        "RectificationOrder.BecameOverdue",
        "RectificationOrder.EscalatedToSupervisors",
    ]

    clock.set(datetime(2022, 5, 19, 1, 0, tzinfo=UTC))
    before = sweep.log_position()
    report = sweep.app.mark_overdue()
    assert report.marked == report.escalated == [major.order]
    events = sweep.events_since(before)
    assert kinds(events) == [
        "RectificationOrder.BecameOverdue",
        "RectificationOrder.EscalatedToSupervisors",
    ]
    assert events[1].to_role == "supervisor" and events[1].deadline == date(2022, 5, 18)
    assert events[1].actor == SYSTEM_ACTOR
    assert sweep.app.get_order(major.order).escalated


# -- hazards (隐患) ---------------------------------------------------------------------


def test_on_the_spot_fix_goes_straight_to_verification(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED)
    with sweep.refuses(InvalidCommand, "spot_fix_needs_evidence"):
        sweep.app.fix_on_the_spot(
            CHEN_XIAOFENG,
            case.hazard,
            note="当场补测",
            evidence=[],
            expected_version=sweep.version(case.hazard),
        )

    before = sweep.log_position()
    sweep.app.fix_on_the_spot(
        CHEN_XIAOFENG,
        case.hazard,
        note="店员当场扫码登记，补做核酸",
        evidence=[photo("当场整改")],
        expected_version=sweep.version(case.hazard),
    )
    fixed = only(sweep.events_since(before), "Hazard.FixedOnTheSpot")
    assert fixed.actor == CHEN_XIAOFENG and fixed.evidence == [photo("当场整改")]
    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.status == HazardStatus.AWAITING_VERIFICATION
    assert hazard.fixed_on_spot and hazard.order_ids == []

    verification_id = sweep.verify(case.hazard, by=ZHANG_MING)
    assert sweep.app.get_verification(verification_id).order_id is None
    sweep.close(case.hazard, by=YU_JIANMING)
    closed = sweep.app.get_hazard(case.hazard)
    assert closed.status == HazardStatus.CLOSED and closed.order_ids == []


def test_only_general_hazard_may_be_fixed_on_the_spot(sweep: Sweep) -> None:
    major = sweep.arrange_case(Stage.HAZARD_REPORTED, Severity.MAJOR)
    with sweep.refuses(IllegalTransition, "spot_fix_only_general"):
        sweep.app.fix_on_the_spot(
            CHEN_XIAOFENG,
            major.hazard,
            note="当场补测",
            evidence=[photo("当场")],
            expected_version=sweep.version(major.hazard),
        )

    # Nor may a general hazard fixed on the spot become major before it is verified:
    # it would be verified and closed without the order a major hazard needs.
    general = sweep.arrange_case(Stage.HAZARD_REPORTED)
    sweep.app.fix_on_the_spot(
        CHEN_XIAOFENG,
        general.hazard,
        note="当场补测",
        evidence=[photo("当场")],
        expected_version=sweep.version(general.hazard),
    )
    with sweep.refuses(IllegalTransition, "spot_fix_only_general"):
        sweep.app.regrade_hazard(
            ZHANG_MING,
            general.hazard,
            severity=Severity.MAJOR,
            reason="扩大",
            expected_version=sweep.version(general.hazard),
        )
    # A failed check of the fix puts the hazard back to reported, where it may be re-graded.
    sweep.verify(general.hazard, passed=False)
    assert sweep.app.get_hazard(general.hazard).status == HazardStatus.REPORTED
    sweep.app.regrade_hazard(
        ZHANG_MING,
        general.hazard,
        severity=Severity.MAJOR,
        reason="复查发现问题更严重",
        expected_version=sweep.version(general.hazard),
    )
    assert sweep.app.get_hazard(general.hazard).severity == Severity.MAJOR

    # Once a fixed-on-the-spot case is closed and reopened, it needs an order like
    # any other, and may be found major.
    reopened = sweep.arrange_case(Stage.HAZARD_REPORTED, site=YU_JIANHUA_SHOP)
    sweep.app.fix_on_the_spot(
        CHEN_XIAOFENG,
        reopened.hazard,
        note="当场补测",
        evidence=[photo("当场")],
        expected_version=sweep.version(reopened.hazard),
    )
    sweep.verify(reopened.hazard)
    sweep.close(reopened.hazard)
    sweep.app.reopen_case(
        ZHANG_MING,
        reopened.hazard,
        reason="抽查仍未检测",
        expected_version=sweep.version(reopened.hazard),
    )
    sweep.app.regrade_hazard(
        ZHANG_MING,
        reopened.hazard,
        severity=Severity.MAJOR,
        reason="屡查屡犯",
        expected_version=sweep.version(reopened.hazard),
    )
    order_id = sweep.issue_order(reopened.hazard, party=YU_JIANHUA_PARTY)
    assert sweep.app.get_order(order_id).five_point_plan is not None


def test_severity_regrade_needs_a_reason(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    for reason in ("", "   "):
        with sweep.refuses(InvalidCommand, "reason_required"):
            sweep.app.regrade_hazard(
                ZHANG_MING,
                case.hazard,
                severity=Severity.MAJOR,
                reason=reason,
                expected_version=sweep.version(case.hazard),
            )
    with sweep.refuses(InvalidCommand, "regrade_same_severity"):
        sweep.app.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity=Severity.GENERAL,
            reason="重新评估",
            expected_version=sweep.version(case.hazard),
        )
    with sweep.refuses(InvalidCommand, "severity_invalid"):
        sweep.app.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity="catastrophic",
            reason="重新评估",
            expected_version=sweep.version(case.hazard),
        )

    before = sweep.log_position()
    sweep.app.regrade_hazard(
        CHEN_XIAOFENG,
        case.hazard,
        severity=Severity.MAJOR,
        reason="涉及全部经营人员",
        expected_version=sweep.version(case.hazard),
    )
    regraded = only(sweep.events_since(before), "Hazard.Regraded")
    assert (regraded.old_severity, regraded.severity, regraded.reason, regraded.actor) == (
        "general",
        "major",
        "涉及全部经营人员",
        CHEN_XIAOFENG,
    )
    assert sweep.app.get_hazard(case.hazard).severity == Severity.MAJOR


def test_reopen_closed_case_with_reason(sweep: Sweep, clock: ManualClock) -> None:
    case = sweep.arrange_case(Stage.CLOSED)
    verified = sweep.arrange_case(Stage.VERIFIED, site=YU_JIANHUA_SHOP)
    with sweep.refuses(IllegalTransition, "reopen_only_closed_case"):
        sweep.app.reopen_case(
            ZHANG_MING,
            verified.hazard,
            reason="再查",
            expected_version=sweep.version(verified.hazard),
        )
    with sweep.refuses(NotPermitted, "reopen_only_by_supervisor"):
        sweep.app.reopen_case(
            CHEN_XIAOFENG, case.hazard, reason="再查", expected_version=sweep.version(case.hazard)
        )
    with sweep.refuses(InvalidCommand, "reason_required"):
        sweep.app.reopen_case(
            ZHANG_MING, case.hazard, reason=" ", expected_version=sweep.version(case.hazard)
        )

    clock.advance(days=10)
    before = sweep.log_position()
    sweep.app.reopen_case(
        YU_JIANMING,
        case.hazard,
        reason="抽查发现仍未两天一检",
        expected_version=sweep.version(case.hazard),
    )
    reopened = only(sweep.events_since(before), "Hazard.Reopened")
    assert (reopened.reason, reopened.actor, reopened.timestamp) == (
        "抽查发现仍未两天一检",
        YU_JIANMING,
        clock(),
    )
    hazard = sweep.app.get_hazard(case.hazard)
    assert hazard.status == HazardStatus.RECTIFYING
    assert hazard.verified_by is None and hazard.closed_at is None
    assert hazard.open_order_id is None

    second = sweep.issue_order(case.hazard)
    assert sweep.app.get_order(second).number == "2022-0003"
    assert sweep.app.get_hazard(case.hazard).order_ids == [case.order, second]


def test_dismiss_needs_supervisor_and_reason(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED)
    for actor in (CHEN_XIAOFENG, TAO_BIAOYIN, LIU_FANG):
        with sweep.refuses(NotPermitted, "dismiss_only_by_supervisor"):
            sweep.app.dismiss_hazard(
                actor, case.hazard, reason="误报", expected_version=sweep.version(case.hazard)
            )
    with sweep.refuses(InvalidCommand, "reason_required"):
        sweep.app.dismiss_hazard(
            ZHANG_MING, case.hazard, reason="", expected_version=sweep.version(case.hazard)
        )

    before = sweep.log_position()
    sweep.app.dismiss_hazard(
        ZHANG_MING,
        case.hazard,
        reason="误报：检测记录在店主手机上",
        expected_version=sweep.version(case.hazard),
    )
    dismissed = only(sweep.events_since(before), "Hazard.Dismissed")
    assert (dismissed.reason, dismissed.cancelled_order_id, dismissed.actor) == (
        "误报：检测记录在店主手机上",
        None,
        ZHANG_MING,
    )
    assert sweep.app.get_hazard(case.hazard).status == HazardStatus.DISMISSED

    closed = sweep.arrange_case(Stage.CLOSED)
    with sweep.refuses(IllegalTransition, "dismiss_only_open_hazard"):
        sweep.app.dismiss_hazard(
            ZHANG_MING, closed.hazard, reason="误报", expected_version=sweep.version(closed.hazard)
        )


def test_dismissed_hazards_open_order_is_cancelled_in_the_same_transaction(
    sweep: Sweep, rival: RectifyApp
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    before = sweep.log_position()

    last = sweep.app.dismiss_hazard(
        ZHANG_MING,
        case.hazard,
        reason="误报：检测记录在店主手机上",
        expected_version=sweep.version(case.hazard),
    )

    notifications = sweep.app.recorder.select_notifications(start=before + 1, limit=10)
    events = [sweep.app.mapper.to_domain_event(n) for n in notifications]
    assert kinds(events) == ["Hazard.Dismissed", "RectificationOrder.Cancelled"]
    assert [n.id for n in notifications] == [before + 1, before + 2] and last == before + 2
    assert events[0].cancelled_order_id == case.order
    order = sweep.app.get_order(case.order)
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "hazard dismissed: 误报：检测记录在店主手机上"

    # When the order cannot be saved (the party changed it meanwhile), the
    # hazard is not dismissed either.
    racing = sweep.arrange_case(Stage.ACKNOWLEDGED, site=YU_JIANHUA_SHOP)
    hazard_version = sweep.version(racing.hazard)
    with sweep.loses_race(
        lambda: rival.report_progress(
            YU_JIANHUA,
            racing.order,
            note="已预约检测",
            expected_version=None,
        ),
        "RectificationOrder.ProgressReported",
    ):
        sweep.app.dismiss_hazard(
            ZHANG_MING, racing.hazard, reason="误报", expected_version=hazard_version
        )
    hazard = sweep.app.get_hazard(racing.hazard)
    assert (hazard.status, hazard.version) == (HazardStatus.RECTIFYING, hazard_version)
    assert sweep.app.get_order(racing.order).status == OrderStatus.ACKNOWLEDGED


# -- versions, races and transactions --------------------------------------------------


def test_stale_version_is_refused(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    stale_inspection = sweep.version(case.inspection_id) - 1
    with sweep.refuses(StaleVersion, "stale_version") as info:
        sweep.app.record_item(
            CHEN_XIAOFENG,
            case.inspection_id,
            item_code="mask",
            result="fail",
            note="未戴口罩",
            expected_version=stale_inspection,
        )
    assert (info.value.expected, info.value.actual) == (
        stale_inspection,
        stale_inspection + 1,
    )

    with sweep.refuses(StaleVersion, "stale_version"):
        sweep.app.report_progress(TAO_BIAOYIN, case.order, note="进行中", expected_version=1)
    with sweep.refuses(StaleVersion, "stale_version"):
        sweep.app.regrade_hazard(
            ZHANG_MING, case.hazard, severity="major", reason="扩大", expected_version=1
        )
    with sweep.refuses(StaleVersion, "stale_version"):
        sweep.app.issue_order(
            CHEN_XIAOFENG,
            case.hazard,
            party=TAO_BIAOYIN_PARTY,
            measures="检测",
            expected_version=1,
        )
    assert sweep.app.get_inspection(case.inspection_id).results["mask"]["result"] == "pass"


def test_write_that_loses_a_race_is_a_conflict(sweep: Sweep, rival: RectifyApp) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    version = sweep.version(case.inspection_id)

    # Both record the mask item, based on the same version; the rival commits first.
    with sweep.loses_race(
        lambda: rival.record_item(
            ZHANG_MING,
            case.inspection_id,
            item_code="mask",
            result="fail",
            note="两名顾客未戴口罩",
            expected_version=version,
        ),
        "Inspection.ItemRecorded",
    ):
        sweep.app.record_item(
            CHEN_XIAOFENG,
            case.inspection_id,
            item_code="mask",
            result="pass",
            expected_version=version,
        )
    inspection = sweep.app.get_inspection(case.inspection_id)
    assert inspection.version == version + 1
    assert inspection.results["mask"] == {
        "result": "fail",
        "note": "两名顾客未戴口罩",
        "by": "zhangming",
    }

    # An unversioned command is no exception: it still may not overwrite.
    order_version = sweep.version(case.order)
    with sweep.loses_race(
        lambda: rival.request_extension(
            TAO_BIAOYIN,
            case.order,
            new_deadline=date(2022, 4, 28),
            reason="排队",
            expected_version=order_version,
        ),
        "RectificationOrder.ExtensionRequested",
    ):
        sweep.app.report_progress(TAO_BIAOYIN, case.order, note="已预约检测", expected_version=None)
    assert sweep.version(case.order) == order_version + 1


def test_command_changing_several_aggregates_saves_atomically_or_not_at_all(
    sweep: Sweep, rival: RectifyApp
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    order_version, hazard_version = sweep.version(case.order), sweep.version(case.hazard)

    # A completion report changes the order and the hazard. A supervisor
    # re-grades the hazard meanwhile: the order's half is not saved either.
    with sweep.loses_race(
        lambda: rival.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity="major",
            reason="扩大",
            expected_version=None,
        ),
        "Hazard.Regraded",
    ):
        sweep.report_completion(case.order)
    order = sweep.app.get_order(case.order)
    assert (order.status, order.version) == (OrderStatus.ACKNOWLEDGED, order_version)
    assert sweep.version(case.hazard) == hazard_version + 1  # the re-grade only

    # A verification creates a verification and changes the order and the hazard.
    sweep.report_completion(case.order)
    with sweep.loses_race(
        lambda: rival.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity="general",
            reason="复核",
            expected_version=None,
        ),
        "Hazard.Regraded",
    ):
        sweep.verify(case.hazard)
    assert sweep.app.get_order(case.order).status == OrderStatus.COMPLETION_REPORTED

    # Issuing an order changes the hazard and the year's number sequence.
    other = sweep.arrange_case(Stage.HAZARD_REPORTED, site=YU_JIANHUA_SHOP)
    with sweep.loses_race(
        lambda: rival.regrade_hazard(
            ZHANG_MING,
            other.hazard,
            severity="major",
            reason="扩大",
            expected_version=None,
        ),
        "Hazard.Regraded",
    ):
        sweep.app.issue_order(
            CHEN_XIAOFENG,
            other.hazard,
            party=YU_JIANHUA_PARTY,
            measures="立即检测",
            expected_version=None,
        )
    # The number the lost command allocated was never saved, so it is handed out next.
    next_order = sweep.issue_order(other.hazard)
    assert sweep.app.get_order(next_order).number == "2022-0002"

    # The saves that succeed land whole, in consecutive log positions.
    position = sweep.log_position()
    sweep.verify(case.hazard)
    notifications = sweep.app.recorder.select_notifications(start=position + 1, limit=10)
    assert [n.id for n in notifications] == [position + 1, position + 2, position + 3]


# -- roles and who acts ---------------------------------------------------------------


def test_responsible_party_acts_only_on_own_orders(sweep: Sweep) -> None:
    tao = sweep.arrange_case(Stage.ORDER_ISSUED)
    kangshun = sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    commands: list[Callable[[Actor, Any], object]] = [
        lambda actor, order: sweep.acknowledge(order, by=actor),
        lambda actor, order: sweep.app.report_progress(
            actor, order, note="进行中", expected_version=sweep.version(order)
        ),
        lambda actor, order: sweep.request_extension(order, date(2022, 4, 28), by=actor),
        lambda actor, order: sweep.report_completion(order, by=actor),
    ]
    for command in commands:
        with sweep.refuses(NotPermitted, "party_acts_only_on_own_orders"):
            command(YU_JIANHUA, tao.order)  # someone else's order
        with sweep.refuses(NotPermitted, "party_acts_only_on_own_orders"):
            command(TAO_BIAOYIN, kangshun.order)  # an order whose party has no account

    before = sweep.log_position()
    sweep.acknowledge(tao.order, by=TAO_BIAOYIN)
    acknowledged = only(sweep.events_since(before), "RectificationOrder.Acknowledged")
    assert (acknowledged.actor, acknowledged.on_behalf) == (TAO_BIAOYIN, False)
    assert sweep.app.get_order(tao.order).status == OrderStatus.ACKNOWLEDGED


def test_inspector_records_on_behalf_of_party_without_account_and_event_says_so(
    sweep: Sweep,
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    assert sweep.app.get_order(case.order).party == KANGSHUN_PARTY
    before = sweep.log_position()

    sweep.acknowledge(case.order, by=CHEN_XIAOFENG)
    sweep.request_extension(case.order, date(2022, 4, 27), by=CHEN_XIAOFENG)
    sweep.report_completion(case.order, by=ZHANG_MING)

    events = [e for e in sweep.events_since(before) if e.originator_id == case.order]
    assert kinds(events) == [
        "RectificationOrder.Acknowledged",
        "RectificationOrder.ExtensionRequested",
        "RectificationOrder.CompletionReported",
    ]
    assert [(e.actor, e.on_behalf) for e in events] == [
        (CHEN_XIAOFENG, True),
        (CHEN_XIAOFENG, True),
        (ZHANG_MING, True),
    ]
    order = sweep.app.get_order(case.order)
    assert order.status == OrderStatus.COMPLETION_REPORTED
    assert order.last_completion["by"] == ZHANG_MING.user_id


def test_role_refusal_records_nothing(sweep: Sweep) -> None:
    app = sweep.app
    inspection = sweep.arrange_case(Stage.ITEMS_RECORDED).inspection_id
    reported = sweep.arrange_case(Stage.HAZARD_REPORTED).hazard
    issued = sweep.arrange_case(Stage.ORDER_ISSUED).order
    extending = sweep.arrange_case(Stage.ACKNOWLEDGED).order
    sweep.request_extension(extending, date(2022, 4, 28))
    awaiting = sweep.arrange_case(Stage.COMPLETION_REPORTED).hazard
    verified = sweep.arrange_case(Stage.VERIFIED).hazard
    closed = sweep.arrange_case(Stage.CLOSED).hazard
    v = sweep.version

    commands: dict[str, tuple[Callable[[Actor], object], str]] = {
        "register_site": (
            lambda a: app.register_site(a, name="新开按摩店", region=REGION),
            "register_site_role",
        ),
        "open_inspection": (
            lambda a: app.open_inspection(a, site_id=sweep.site(), template_code=CHECKLIST.code),
            "open_inspection_role",
        ),
        "record_item": (
            lambda a: app.record_item(
                a, inspection, item_code="mask", result="pass", expected_version=v(inspection)
            ),
            "record_item_role",
        ),
        "complete_inspection": (
            lambda a: app.complete_inspection(a, inspection, expected_version=v(inspection)),
            "complete_inspection_role",
        ),
        "cancel_inspection": (
            lambda a: app.cancel_inspection(
                a, inspection, reason="停电", expected_version=v(inspection)
            ),
            "cancel_inspection_role",
        ),
        "report_hazard": (lambda a: sweep.report_hazard(inspection, by=a), "report_hazard_role"),
        "regrade_hazard": (
            lambda a: app.regrade_hazard(
                a, reported, severity="major", reason="扩大", expected_version=v(reported)
            ),
            "regrade_role",
        ),
        "fix_on_the_spot": (
            lambda a: app.fix_on_the_spot(
                a, reported, note="当场整改", evidence=[photo("当场")], expected_version=v(reported)
            ),
            "spot_fix_role",
        ),
        "issue_order": (lambda a: sweep.issue_order(reported, by=a), "issue_order_role"),
        "dismiss_hazard": (
            lambda a: app.dismiss_hazard(a, reported, reason="误报", expected_version=v(reported)),
            "dismiss_only_by_supervisor",
        ),
        "acknowledge_order": (lambda a: sweep.acknowledge(issued, by=a), "party_action_role"),
        "report_progress": (
            lambda a: app.report_progress(a, issued, note="进行中", expected_version=v(issued)),
            "party_action_role",
        ),
        "request_extension": (
            lambda a: sweep.request_extension(issued, date(2022, 4, 28), by=a),
            "party_action_role",
        ),
        "report_completion": (lambda a: sweep.report_completion(issued, by=a), "party_action_role"),
        "grant_extension": (
            lambda a: app.grant_extension(
                a, extending, reason="同意", password=password_of(a), expected_version=v(extending)
            ),
            "extension_by_supervisor",
        ),
        "deny_extension": (
            lambda a: app.deny_extension(
                a, extending, reason="不同意", expected_version=v(extending)
            ),
            "extension_by_supervisor",
        ),
        "verify": (lambda a: sweep.verify(awaiting, by=a), "verify_role"),
        "close_case": (lambda a: sweep.close(verified, by=a), "case_closes_only_by_supervisor"),
        "reopen_case": (
            lambda a: app.reopen_case(a, closed, reason="再查", expected_version=v(closed)),
            "reopen_only_by_supervisor",
        ),
    }
    party_commands = {
        "acknowledge_order",
        "report_progress",
        "request_extension",
        "report_completion",
    }
    supervisor_commands = {
        "grant_extension",
        "deny_extension",
        "dismiss_hazard",
        "close_case",
        "reopen_case",
    }
    forbidden = {
        LIU_FANG: set(commands),  # the auditor changes nothing
        TAO_BIAOYIN: set(commands) - party_commands,
        CHEN_XIAOFENG: supervisor_commands,
    }

    for actor, names in forbidden.items():
        for name in sorted(names):
            command, rule = commands[name]
            with sweep.refuses(NotPermitted, rule):
                command(actor)

    # The refusals were for the role alone: the same commands go through for a supervisor.
    for name in ("grant_extension", "close_case", "reopen_case", "verify", "dismiss_hazard"):
        commands[name][0](ZHANG_MING if name != "close_case" else YU_JIANMING)
    assert app.get_hazard(closed).status == HazardStatus.RECTIFYING


# -- inspections (检查) -----------------------------------------------------------------


def test_nothing_changes_after_inspection_completion(sweep: Sweep) -> None:
    completed = sweep.arrange_case(Stage.ITEMS_RECORDED).inspection_id
    before = sweep.log_position()
    sweep.app.complete_inspection(
        CHEN_XIAOFENG, completed, expected_version=sweep.version(completed)
    )
    done = only(sweep.events_since(before), "Inspection.Completed")
    assert done.actor == CHEN_XIAOFENG
    assert sweep.app.get_inspection(completed).status == InspectionStatus.COMPLETED

    cancelled = sweep.open_inspection()
    sweep.app.cancel_inspection(
        ZHANG_MING, cancelled, reason="店铺暂停营业", expected_version=sweep.version(cancelled)
    )

    for inspection_id in (completed, cancelled):
        rule = "nothing_changes_after_inspection_completion"
        with sweep.refuses(IllegalTransition, rule):
            sweep.record(inspection_id, "mask", "pass")
        with sweep.refuses(IllegalTransition, rule):
            sweep.report_hazard(inspection_id, item_code=None)
        with sweep.refuses(IllegalTransition, rule):
            sweep.app.complete_inspection(
                CHEN_XIAOFENG, inspection_id, expected_version=sweep.version(inspection_id)
            )
        with sweep.refuses(IllegalTransition, rule):
            sweep.app.cancel_inspection(
                CHEN_XIAOFENG,
                inspection_id,
                reason="重复",
                expected_version=sweep.version(inspection_id),
            )


def test_inspection_completes_only_with_every_item_recorded(sweep: Sweep) -> None:
    inspection_id = sweep.open_inspection()
    sweep.record_all(inspection_id, skip="visitor-register")

    with sweep.refuses(IllegalTransition, "inspection_complete_needs_every_item") as info:
        sweep.app.complete_inspection(
            CHEN_XIAOFENG, inspection_id, expected_version=sweep.version(inspection_id)
        )
    assert "visitor-register" in info.value.message

    sweep.record(inspection_id, "visitor-register", "na", note="无访客")
    sweep.app.complete_inspection(
        CHEN_XIAOFENG, inspection_id, expected_version=sweep.version(inspection_id)
    )
    inspection = sweep.app.get_inspection(inspection_id)
    assert inspection.status == InspectionStatus.COMPLETED
    assert set(inspection.results) == set(CHECKLIST.item_codes)
    assert inspection.results["visitor-register"]["result"] == ItemResult.NOT_APPLICABLE


def test_cancelled_inspection_needs_reason(sweep: Sweep) -> None:
    inspection_id = sweep.open_inspection(site=KANGSHUN_SHOP)
    with sweep.refuses(InvalidCommand, "reason_required"):
        sweep.app.cancel_inspection(
            CHEN_XIAOFENG,
            inspection_id,
            reason="  ",
            expected_version=sweep.version(inspection_id),
        )

    before = sweep.log_position()
    sweep.app.cancel_inspection(
        CHEN_XIAOFENG,
        inspection_id,
        reason="店铺暂停营业",
        expected_version=sweep.version(inspection_id),
    )
    cancelled = only(sweep.events_since(before), "Inspection.Cancelled")
    assert (cancelled.reason, cancelled.actor) == ("店铺暂停营业", CHEN_XIAOFENG)
    inspection = sweep.app.get_inspection(inspection_id)
    assert (inspection.status, inspection.cancel_reason) == (
        InspectionStatus.CANCELLED,
        "店铺暂停营业",
    )


def test_only_failed_item_reports_a_hazard(sweep: Sweep) -> None:
    inspection_id = sweep.open_inspection()
    sweep.record(inspection_id, "mask", "pass")
    sweep.record(inspection_id, "visitor-register", "na", note="无访客")
    with sweep.refuses(InvalidCommand, "failed_item_needs_note"):
        sweep.record(inspection_id, FAILED_ITEM, "fail")
    sweep.record(inspection_id, FAILED_ITEM, "fail", note="缺 4 月 14 日检测记录")

    for item_code in ("mask", "visitor-register", "temperature"):  # pass, n.a., not recorded
        with sweep.refuses(IllegalTransition, "hazard_only_from_failed_item"):
            sweep.report_hazard(inspection_id, item_code=item_code)
    with sweep.refuses(InvalidCommand, "unknown_checklist_item"):
        sweep.report_hazard(inspection_id, item_code="fire-extinguisher")

    before = sweep.log_position()
    from_item = sweep.report_hazard(inspection_id, item_code=FAILED_ITEM)
    events = sweep.events_since(before)
    assert kinds(events) == ["Hazard.Reported", "Inspection.HazardReported"]
    assert events[0].item_code == FAILED_ITEM and events[1].hazard_id == from_item
    # A hazard seen outside the checklist names no item.
    observed = sweep.report_hazard(inspection_id, item_code=None)
    assert sweep.app.get_inspection(inspection_id).hazard_ids == [from_item, observed]
    assert sweep.app.get_hazard(observed).item_code is None


# -- what every event records -----------------------------------------------------------


def test_every_event_records_actor_and_time(sweep: Sweep, clock: ManualClock) -> None:
    # A case that goes through nearly every command, a day apart.
    case = sweep.arrange_case(Stage.HAZARD_REPORTED, Severity.MAJOR)
    steps: list[Callable[[], object]] = [
        lambda: sweep.app.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity="general",
            reason="仅一名店员",
            expected_version=sweep.version(case.hazard),
        ),
        lambda: setattr(case, "order_id", sweep.issue_order(case.hazard)),
        lambda: sweep.acknowledge(case.order),
        lambda: sweep.request_extension(case.order, date(2022, 5, 10)),
        lambda: sweep.app.grant_extension(
            ZHANG_MING,
            case.order,
            reason="同意",
            password=password_of(ZHANG_MING),
            expected_version=sweep.version(case.order),
        ),
        lambda: clock.advance(days=30),
        lambda: sweep.app.mark_overdue(),
        lambda: sweep.report_completion(case.order),
        lambda: sweep.verify(case.hazard, passed=False),
        lambda: sweep.report_completion(case.order),
        lambda: sweep.verify(case.hazard),
        lambda: sweep.close(case.hazard),
        lambda: sweep.app.reopen_case(
            YU_JIANMING, case.hazard, reason="再查", expected_version=sweep.version(case.hazard)
        ),
        lambda: sweep.app.dismiss_hazard(
            YU_JIANMING,
            case.hazard,
            reason="核实为误报",
            expected_version=sweep.version(case.hazard),
        ),
        lambda: sweep.app.complete_inspection(
            ZHANG_MING, case.inspection_id, expected_version=sweep.version(case.inspection_id)
        ),
    ]
    arranged = sweep.log_position()
    step_times: list[tuple[int, datetime]] = []  # (log position before the step, its time)
    for step in steps:
        clock.advance(hours=20)
        step_times.append((sweep.log_position(), clock()))
        step()

    notifications = sweep.app.recorder.select_notifications(start=1, limit=10_000)
    events = [sweep.app.mapper.to_domain_event(n) for n in notifications]
    seen = set(kinds(events))
    assert {
        "RectificationOrder.BecameOverdue",
        "RectificationOrder.ExtensionGranted",
        "Hazard.Reopened",
        "Hazard.Dismissed",
        "Inspection.Completed",
        "OrderNumberSequence.Allocated",
        "Site.Registered",
    } <= seen
    cast = {ZHANG_MING, YU_JIANMING, CHEN_XIAOFENG, TAO_BIAOYIN, SYSTEM_ACTOR}
    for notification, event in zip(notifications, events, strict=True):
        name = type(event).__qualname__
        assert isinstance(event.actor, Actor) and event.actor in cast, name
        assert isinstance(event.actor.role, Role), name
        # Each event carries the time of the command that recorded it.
        expected = SWEEP_STARTS
        for position, at in step_times:
            if notification.id > position:
                expected = at
        if notification.id <= arranged:
            expected = SWEEP_STARTS
        assert event.timestamp == expected, name


def test_reason_required_where_action_overrides_dismisses_reopens_extends_or_closes(
    sweep: Sweep,
) -> None:
    app, v = sweep.app, sweep.version
    reported = sweep.arrange_case(Stage.HAZARD_REPORTED).hazard
    acknowledged = sweep.arrange_case(Stage.ACKNOWLEDGED).order
    extending = sweep.arrange_case(Stage.ACKNOWLEDGED).order
    sweep.request_extension(extending, date(2022, 4, 28))
    denying = sweep.arrange_case(Stage.ACKNOWLEDGED).order
    sweep.request_extension(denying, date(2022, 4, 28))
    verified = sweep.arrange_case(Stage.VERIFIED).hazard
    closed = sweep.arrange_case(Stage.CLOSED).hazard
    inspection = sweep.open_inspection()

    without_reason: dict[str, Callable[[str], object]] = {
        "regrade": lambda r: app.regrade_hazard(
            ZHANG_MING, reported, severity="major", reason=r, expected_version=v(reported)
        ),
        "dismiss": lambda r: app.dismiss_hazard(
            ZHANG_MING, reported, reason=r, expected_version=v(reported)
        ),
        "reopen": lambda r: app.reopen_case(
            ZHANG_MING, closed, reason=r, expected_version=v(closed)
        ),
        "request extension": lambda r: app.request_extension(
            TAO_BIAOYIN,
            acknowledged,
            new_deadline=date(2022, 4, 28),
            reason=r,
            expected_version=v(acknowledged),
        ),
        "grant extension": lambda r: app.grant_extension(
            ZHANG_MING,
            extending,
            reason=r,
            password=password_of(ZHANG_MING),
            expected_version=v(extending),
        ),
        "deny extension": lambda r: app.deny_extension(
            ZHANG_MING, denying, reason=r, expected_version=v(denying)
        ),
        "close": lambda r: app.close_case(
            ZHANG_MING,
            verified,
            reason=r,
            password=password_of(ZHANG_MING),
            expected_version=v(verified),
        ),
        "cancel inspection": lambda r: app.cancel_inspection(
            ZHANG_MING, inspection, reason=r, expected_version=v(inspection)
        ),
    }
    for command in without_reason.values():
        for blank in ("", "   \n"):
            with sweep.refuses(InvalidCommand, "reason_required"):
                command(blank)

    for name, command in without_reason.items():
        if name == "dismiss":
            continue  # the re-grade already moved the hazard on; dismissing is the last act
        command(f"{name}：有正当理由")
    without_reason["dismiss"]("误报")
    reasons = [getattr(e, "reason", None) for e in sweep.events_since(0)]
    assert "close：有正当理由" in reasons and "误报" in reasons
