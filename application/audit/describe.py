"""How an event reads to an auditor: a sentence in Chinese and English, who did it,
why, and what it changed.

Every event type of ``domain/`` has a sentence here (a test enumerates them);
an event type added later and not described yet still reads, generically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic

from domain.checklists import all_templates, get_template
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.numbering import OrderNumberSequence
from domain.order import RectificationOrder
from domain.site import Site
from domain.values import Actor
from domain.verification import Verification

AGGREGATE_TYPES: dict[type[Aggregate], str] = {
    Site: "site",
    Inspection: "inspection",
    Hazard: "hazard",
    RectificationOrder: "rectification_order",
    Verification: "verification",
    OrderNumberSequence: "order_number_sequence",
}

# The library's generic base classes live on every aggregate too; they are not
# events anyone records.
_NOT_RECORDED = frozenset({"Event", "Created", "Snapshot"})


def event_classes() -> Iterator[type[DomainEvent]]:
    """Every event class the domain records, aggregate by aggregate."""
    for aggregate in AGGREGATE_TYPES:
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, DomainEvent)
                and name not in _NOT_RECORDED
            ):
                yield value


def event_type_of(event_class: type) -> str:
    """The event's type as the audit shows it, e.g. ``Hazard.Reported``."""
    return event_class.__qualname__


def aggregate_type_of(event_class: type) -> str:
    """The kind of aggregate an event class belongs to, e.g. ``hazard``."""
    owner = event_class.__qualname__.split(".", 1)[0]
    for aggregate, kind in AGGREGATE_TYPES.items():
        if aggregate.__name__ == owner:
            return kind
    return owner.lower()


def topics_for(event_types: tuple[str, ...]) -> tuple[str, ...]:
    """The stored topics of the named event types; refuses a name that is not one."""
    known = {event_type_of(cls): get_topic(cls) for cls in event_classes()}
    by_topic = set(known.values())
    topics = []
    for name in event_types:
        if name in known:
            topics.append(known[name])
        elif name in by_topic:
            topics.append(name)
        else:
            raise InvalidCommand(
                f"unknown event type {name!r}; known types: {', '.join(sorted(known))}",
                rule="unknown_event_type",
            )
    return tuple(topics)


# -- values an auditor can read ------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a value of the domain (dates as ISO text, ids as text)."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def public_state(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's own attributes (not the library's bookkeeping), JSON-ready."""
    return {
        name: to_jsonable(value)
        for name, value in vars(aggregate).items()
        if not name.startswith("_")
    }


def aggregate_state(aggregate: Aggregate) -> dict[str, Any]:
    """An aggregate as the audit shows it: what it is, its version, and its state."""
    return {
        "id": str(aggregate.id),
        "type": AGGREGATE_TYPES.get(type(aggregate), type(aggregate).__name__),
        "version": aggregate.version,
        "created_on": aggregate.created_on.isoformat(),
        "modified_on": aggregate.modified_on.isoformat(),
        "state": public_state(aggregate),
    }


@dataclass(frozen=True)
class Change:
    """One attribute an event changed: its value before and after (None: not yet set)."""

    field: str
    old: Any
    new: Any


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The attributes whose JSON-ready values differ, in the order the aggregate keeps them."""
    names = list(after) + [name for name in before if name not in after]
    return [
        Change(name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]


# -- sentences ------------------------------------------------------------------------------

_ROLE_ZH = {
    "inspector": "检查员",
    "responsible_party": "整改责任人",
    "supervisor": "负责人",
    "auditor": "审计员",
    "system": "系统",
}
_SEVERITY_ZH = {"general": "一般", "major": "重大"}
_RESULT = {"pass": ("合格", "pass"), "fail": ("不合格", "fail"), "na": ("不适用", "not applicable")}

Sentence = tuple[str, str]
Describer = Callable[[Any, "_Context"], Sentence]
_DESCRIBERS: dict[str, Describer] = {}


@dataclass(frozen=True)
class _Context:
    """What a sentence may use besides the event: the aggregate just after it (if known)."""

    event: Any
    aggregate: Any | None

    @property
    def who_zh(self) -> str:
        actor = getattr(self.event, "actor", None)
        if not isinstance(actor, Actor):
            return "系统"
        if actor.role.value == "system":
            return "系统"
        return f"{_ROLE_ZH.get(actor.role.value, actor.role.value)}{actor.name}"

    @property
    def who_en(self) -> str:
        actor = getattr(self.event, "actor", None)
        if not isinstance(actor, Actor) or actor.role.value == "system":
            return "The system"
        return f"{actor.name} ({actor.role.value.replace('_', ' ')})"

    def attr(self, name: str, default: Any = None) -> Any:
        return getattr(self.aggregate, name, default) if self.aggregate is not None else default

    @property
    def order_zh(self) -> str:
        number = self.attr("number")
        return f"整改通知 {number}" if number else "整改通知"

    @property
    def order_en(self) -> str:
        number = self.attr("number")
        return f"order {number}" if number else "the order"


def describes(*event_types: str) -> Callable[[Describer], Describer]:
    def register(describer: Describer) -> Describer:
        for event_type in event_types:
            _DESCRIBERS[event_type] = describer
        return describer

    return register


def described_event_types() -> frozenset[str]:
    return frozenset(_DESCRIBERS)


def sentence_for(event: Any, aggregate: Any | None = None) -> Sentence:
    """The event in a sentence, Chinese and English.

    ``aggregate`` is the aggregate just after the event, when the caller
    replayed it; it lets a sentence name an order's number or an item's
    wording, which the event itself does not carry.
    """
    context = _Context(event, aggregate)
    describer = _DESCRIBERS.get(event_type_of(type(event)))
    if describer is None:
        name = event_type_of(type(event))
        return f"{context.who_zh}：{name}", f"{context.who_en}: {name}"
    return describer(event, context)


def _item_names(code: str | None, context: _Context) -> tuple[str, str]:
    if code is None:
        return "", ""
    template_code = context.attr("template_code")
    templates = (
        [get_template(template_code, context.attr("template_version"))]
        if template_code
        else list(all_templates())
    )
    for template in templates:
        for item in template.items:
            if item.code == code:
                return item.zh, item.en
    return code, code


def _on_behalf(event: Any) -> Sentence:
    if getattr(event, "on_behalf", False):
        return "（代责任人）", " on behalf of the responsible party"
    return "", ""


def _with_note(text: str, sep: str) -> str:
    return f"{sep}{text}" if text else ""


@describes("Site.Registered")
def _site_registered(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}登记受检场所「{e.name}」（{e.region}）",
        f"{c.who_en} registered the site “{e.name}” ({e.region})",
    )


@describes("Inspection.Opened")
def _inspection_opened(e: Any, c: _Context) -> Sentence:
    names = "、".join(i.name for i in e.inspectors)
    return (
        f"{c.who_zh}开始检查（检查表 {e.template_code} 第 {e.template_version} 版，"
        f"检查人：{names}）",
        f"{c.who_en} opened an inspection against checklist {e.template_code} "
        f"v{e.template_version} (inspectors: {', '.join(i.name for i in e.inspectors)})",
    )


@describes("Inspection.ItemRecorded")
def _item_recorded(e: Any, c: _Context) -> Sentence:
    item_zh, item_en = _item_names(e.item_code, c)
    result_zh, result_en = _RESULT.get(e.result, (e.result, e.result))
    return (
        f"{c.who_zh}记录检查项「{item_zh}」：{result_zh}{_with_note(e.note, '，')}",
        f"{c.who_en} recorded “{item_en}” as {result_en}{_with_note(e.note, ': ')}",
    )


@describes("Inspection.HazardReported")
def _inspection_hazard(e: Any, c: _Context) -> Sentence:
    item_zh, item_en = _item_names(e.item_code, c)
    return (
        f"{c.who_zh}在本次检查中上报隐患 {e.hazard_id}"
        + (f"（检查项「{item_zh}」）" if item_zh else ""),
        f"{c.who_en} reported hazard {e.hazard_id} from this inspection"
        + (f" (item “{item_en}”)" if item_en else ""),
    )


@describes("Inspection.Completed")
def _inspection_completed(e: Any, c: _Context) -> Sentence:
    return f"{c.who_zh}完成检查", f"{c.who_en} completed the inspection"


@describes("Inspection.Cancelled")
def _inspection_cancelled(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}取消检查，原因：{e.reason}",
        f"{c.who_en} cancelled the inspection: {e.reason}",
    )


@describes("Hazard.Reported")
def _hazard_reported(e: Any, c: _Context) -> Sentence:
    item_zh, item_en = _item_names(e.item_code, c)
    return (
        f"{c.who_zh}上报{_SEVERITY_ZH.get(e.severity, e.severity)}隐患（{e.category}）："
        f"{e.description}{_with_note(e.location, '，位置：')}"
        + (f"，检查项「{item_zh}」" if item_zh else ""),
        f"{c.who_en} reported a {e.severity} hazard ({e.category}): {e.description}"
        + _with_note(e.location, ", at ")
        + (f", item “{item_en}”" if item_en else ""),
    )


@describes("Hazard.Regraded")
def _hazard_regraded(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}将隐患等级由{_SEVERITY_ZH.get(e.old_severity, e.old_severity)}调整为"
        f"{_SEVERITY_ZH.get(e.severity, e.severity)}，原因：{e.reason}",
        f"{c.who_en} re-graded the hazard from {e.old_severity} to {e.severity}: {e.reason}",
    )


@describes("Hazard.FixedOnTheSpot")
def _fixed_on_spot(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}记录隐患即查即改：{e.note}（证据 {len(e.evidence)} 份），待复查",
        f"{c.who_en} recorded the hazard fixed on the spot: {e.note} "
        f"({len(e.evidence)} evidence file(s)); it awaits verification",
    )


@describes("Hazard.OrderIssued")
def _hazard_order_issued(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}对该隐患下达整改通知 {e.number}，隐患进入整改",
        f"{c.who_en} issued rectification order {e.number} for the hazard; rectification begins",
    )


@describes("Hazard.CompletionReported")
def _hazard_completion(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}报告整改完成，隐患待复查",
        f"{c.who_en} reported the rectification complete; the hazard awaits verification",
    )


@describes("Hazard.VerificationPassed")
def _hazard_passed(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}复查合格，隐患已整改到位，待销号",
        f"{c.who_en} verified the rectification: passed; the case awaits closing",
    )


@describes("Hazard.VerificationFailed")
def _hazard_failed(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}复查不合格，隐患退回整改",
        f"{c.who_en} verified the rectification: failed; the hazard goes back to rectification",
    )


@describes("Hazard.Dismissed")
def _hazard_dismissed(e: Any, c: _Context) -> Sentence:
    cancelled = e.cancelled_order_id is not None
    return (
        f"{c.who_zh}撤销误报隐患，原因：{e.reason}" + ("；其整改通知一并撤销" if cancelled else ""),
        f"{c.who_en} dismissed the hazard as reported in error: {e.reason}"
        + ("; its open order is cancelled with it" if cancelled else ""),
    )


@describes("Hazard.Closed")
def _hazard_closed(e: Any, c: _Context) -> Sentence:
    signature = e.signature
    return (
        f"{c.who_zh}签字销号（{signature.signer_name}，{signature.meaning}），原因：{e.reason}",
        f"{c.who_en} closed the case, signed by {signature.signer_name} meaning "
        f"“{signature.meaning}”: {e.reason}",
    )


@describes("Hazard.Reopened")
def _hazard_reopened(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}重新打开已销号案件，原因：{e.reason}",
        f"{c.who_en} reopened the closed case: {e.reason}",
    )


@describes("RectificationOrder.Issued")
def _order_issued(e: Any, c: _Context) -> Sentence:
    plan = e.five_point_plan is not None
    return (
        f"{c.who_zh}下达整改通知 {e.number}：责任人{e.party.name}（{e.party.contact}），"
        f"整改措施：{e.measures}，期限 {e.deadline.isoformat()}"
        + ("，附五落实方案" if plan else ""),
        f"{c.who_en} issued rectification order {e.number} to {e.party.name} "
        f"({e.party.contact}): {e.measures}; deadline {e.deadline.isoformat()}"
        + ("; with the five-point plan" if plan else ""),
    )


@describes("RectificationOrder.Acknowledged")
def _order_acknowledged(e: Any, c: _Context) -> Sentence:
    zh, en = _on_behalf(e)
    return (
        f"{c.who_zh}{zh}签收{c.order_zh}",
        f"{c.who_en} acknowledged {c.order_en}{en}",
    )


@describes("RectificationOrder.ProgressReported")
def _order_progress(e: Any, c: _Context) -> Sentence:
    zh, en = _on_behalf(e)
    return (
        f"{c.who_zh}{zh}报告{c.order_zh}整改进展：{e.note}",
        f"{c.who_en} reported progress on {c.order_en}{en}: {e.note}",
    )


@describes("RectificationOrder.ExtensionRequested")
def _extension_requested(e: Any, c: _Context) -> Sentence:
    zh, en = _on_behalf(e)
    return (
        f"{c.who_zh}{zh}申请将{c.order_zh}期限延至 {e.new_deadline.isoformat()}，理由：{e.reason}",
        f"{c.who_en} asked{en} to extend {c.order_en} to {e.new_deadline.isoformat()}: {e.reason}",
    )


@describes("RectificationOrder.ExtensionGranted")
def _extension_granted(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}签字同意延期（{e.signature.meaning}）：{c.order_zh}期限由 "
        f"{e.old_deadline.isoformat()} 延至 {e.new_deadline.isoformat()}，理由：{e.reason}",
        f"{c.who_en} granted the extension, signed “{e.signature.meaning}”: {c.order_en} "
        f"moves from {e.old_deadline.isoformat()} to {e.new_deadline.isoformat()}: {e.reason}",
    )


@describes("RectificationOrder.ExtensionDenied")
def _extension_denied(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}驳回延期申请（申请延至 {e.requested_deadline.isoformat()}），理由：{e.reason}",
        f"{c.who_en} denied the extension to {e.requested_deadline.isoformat()}: {e.reason}",
    )


@describes("RectificationOrder.CompletionReported")
def _order_completion(e: Any, c: _Context) -> Sentence:
    zh, en = _on_behalf(e)
    return (
        f"{c.who_zh}{zh}报告{c.order_zh}整改完成：{e.note}（证据 {len(e.evidence)} 份）",
        f"{c.who_en} reported {c.order_en} complete{en}: {e.note} "
        f"({len(e.evidence)} evidence file(s))",
    )


@describes("RectificationOrder.Fulfilled")
def _order_fulfilled(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}复查合格，{c.order_zh}已履行",
        f"{c.who_en} verified the rectification: {c.order_en} is fulfilled",
    )


@describes("RectificationOrder.ReopenedAfterFailedVerification")
def _order_reopened(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}复查不合格，{c.order_zh}退回第 {e.attempt} 次整改，期限由 "
        f"{e.old_deadline.isoformat()} 改为 {e.new_deadline.isoformat()}",
        f"{c.who_en} failed the verification: {c.order_en} goes back for attempt {e.attempt}, "
        f"deadline {e.old_deadline.isoformat()} → {e.new_deadline.isoformat()}",
    )


@describes("RectificationOrder.Cancelled")
def _order_cancelled(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.who_zh}撤销{c.order_zh}，原因：{e.reason}",
        f"{c.who_en} cancelled {c.order_en}: {e.reason}",
    )


@describes("RectificationOrder.BecameOverdue")
def _order_overdue(e: Any, c: _Context) -> Sentence:
    return (
        f"{c.order_zh}已过期限 {e.deadline.isoformat()} 仍未报整改完成，记为逾期（{c.who_zh}记录）",
        f"{c.order_en} passed its deadline {e.deadline.isoformat()} with no completion report: "
        f"overdue (recorded by {c.who_en})",
    )


@describes("RectificationOrder.EscalatedToSupervisors")
def _order_escalated(e: Any, c: _Context) -> Sentence:
    return (
        f"重大隐患的{c.order_zh}逾期，已上报负责人（{c.who_zh}记录）",
        f"{c.order_en} of a major hazard is overdue and was escalated to the supervisors",
    )


@describes("Verification.Performed")
def _verification(e: Any, c: _Context) -> Sentence:
    result_zh, result_en = ("合格", "passed") if e.passed else ("不合格", "failed")
    return (
        f"{c.who_zh}复查验收（第 {e.attempt} 次）：{result_zh}，复查意见：{e.findings}",
        f"{c.who_en} verified attempt {e.attempt}: {result_en}; findings: {e.findings}",
    )


@describes("OrderNumberSequence.Started")
def _sequence_started(e: Any, c: _Context) -> Sentence:
    return (
        f"{e.year} 年整改通知编号启用（{c.who_zh}）",
        f"Order numbers for {e.year} started ({c.who_en})",
    )


@describes("OrderNumberSequence.Allocated")
def _number_allocated(e: Any, c: _Context) -> Sentence:
    year = c.attr("year")
    number = f"{year}-{e.number:04d}" if year else f"#{e.number}"
    return (
        f"{c.who_zh}取得整改通知编号 {number}",
        f"{c.who_en} took order number {number}",
    )
