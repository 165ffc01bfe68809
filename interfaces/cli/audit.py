"""``rectify audit``: replay cases, read and export the log, verify its hash chain."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from application.audit import Anchor, AuditEntry, AuditService, LogFilter, VerifyReport
from application.errors import ApplicationError
from domain.errors import DomainError
from infrastructure.composition import Services
from interfaces.cli.followers import run_followers
from interfaces.cli.options import DatabaseUrl, fail

app = typer.Typer(
    name="audit",
    help="Replay cases, read and export the event log, verify that nobody rewrote it.",
    no_args_is_help=True,
)


class Language(StrEnum):
    ZH = "zh"
    EN = "en"
    BOTH = "both"


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def parse_uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an id (a UUID)") from None


def parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2022-04-20T12:00+08:00"
        ) from None


def parse_anchor(value: str | None) -> Anchor | None:
    if value is None:
        return None
    try:
        return Anchor.parse(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


CaseId = Annotated[
    UUID, typer.Argument(parser=parse_uuid, metavar="CASE", help="The case (hazard) id.")
]
Lang = Annotated[Language, typer.Option("--lang", help="Language of the sentences.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Moment = Annotated[
    datetime | None,
    typer.Option(
        parser=parse_moment, metavar="TIME", help="ISO 8601; no zone means Asia/Shanghai."
    ),
]


@contextmanager
def open_audit(database_url: str | None) -> Iterator[AuditService]:
    """The audit service on ``database_url``; the application closed afterwards.

    A refusal of the application (no such case, a bad filter) becomes an error
    message and exit status 1, not a traceback.
    """
    with Services.open(database_url) as services:
        try:
            yield services.audit
        except (ApplicationError, DomainError) as error:
            raise fail(error.message) from None


# -- rendering -------------------------------------------------------------------------------


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _local(entry_time: datetime, service: AuditService) -> str:
    return entry_time.astimezone(service.app.time_zone).strftime("%Y-%m-%d %H:%M:%S %z")


def echo_entry(entry: AuditEntry, service: AuditService, lang: Language, changes: bool) -> None:
    who = f"{entry.actor_name} ({entry.actor_role})" if entry.actor_name else "-"
    typer.echo(
        f"#{entry.position:<6} {_local(entry.time, service)}  {entry.event_type}  v{entry.version}"
        f"  {who}"
    )
    if lang in (Language.ZH, Language.BOTH):
        typer.echo(f"        {entry.sentence_zh}")
    if lang in (Language.EN, Language.BOTH):
        typer.echo(f"        {entry.sentence_en}")
    if entry.reason:
        typer.echo(f"        why: {entry.reason}")
    if changes:
        for change in entry.changes:
            typer.echo(f"        {change.field}: {_short(change.old)} → {_short(change.new)}")


def _case_summary(state: dict[str, Any]) -> str:
    parts = []
    hazard = state["hazard"]
    if hazard is not None:
        h = hazard["state"]
        parts.append(f"hazard {h['status']} ({h['severity']}) v{hazard['version']}")
    else:
        parts.append("hazard not reported yet")
    for order in state["orders"]:
        o = order["state"]
        parts.append(
            f"order {o['number']} {o['status']}, deadline {o['deadline']}, attempt {o['attempt']}"
        )
    for verification in state["verifications"]:
        v = verification["state"]
        parts.append(f"verification {'passed' if v['passed'] else 'failed'}")
    return "; ".join(parts)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


# -- commands ---------------------------------------------------------------------------------


@app.command()
def timeline(
    case_id: CaseId,
    lang: Lang = Language.BOTH,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Every event of a case, in log order: who, when, what, why and what changed."""
    with open_audit(database_url) as service:
        case = service.timeline(case_id)
        if as_json:
            echo_json([entry.as_dict() for entry in case.entries])
            return
        typer.echo(f"Case {case_id}: {len(case.steps)} events")
        for entry in case.entries:
            echo_entry(entry, service, lang, changes=True)


@app.command()
def replay(
    case_id: CaseId,
    lang: Lang = Language.BOTH,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The case's timeline with the case's state after each step."""
    with open_audit(database_url) as service:
        case = service.timeline(case_id)
        if as_json:
            echo_json(
                [{"entry": s.entry.as_dict(), "case_state": s.case_state} for s in case.steps]
            )
            return
        typer.echo(f"Replaying case {case_id}: {len(case.steps)} steps")
        for step in case.steps:
            echo_entry(step.entry, service, lang, changes=False)
            typer.echo(f"        ⇒ {_case_summary(step.case_state)}")


@app.command()
def state(
    aggregate_id: Annotated[
        UUID,
        typer.Argument(parser=parse_uuid, metavar="ID", help="A case (hazard) or any aggregate."),
    ],
    at: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            parser=parse_moment,
            metavar="TIME",
            help="ISO 8601 time; without a zone, Asia/Shanghai.",
        ),
    ] = None,
    version: Annotated[int | None, typer.Option(min=1, help="The aggregate's version.")] = None,
    position: Annotated[
        int | None, typer.Option(min=1, help="A log position (with --case).")
    ] = None,
    case: Annotated[
        bool,
        typer.Option(
            "--case", help="Show the whole case (hazard, orders, verifications) of a hazard id."
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The state of a case or any aggregate as of a time or a version (now by default)."""
    if position is not None and not case:
        raise typer.BadParameter("--position needs --case", param_hint="--position")
    with open_audit(database_url) as service:
        if case:
            echo_json(service.case_state(aggregate_id, at=at, version=version, position=position))
        else:
            echo_json(service.aggregate_state(aggregate_id, at=at, version=version))


@app.command("log")
def log(
    after: Annotated[int, typer.Option(min=0, help="Start after this log position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Events per page.")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this user id's events.")] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only this event type, e.g. Hazard.Closed (repeatable)."),
    ] = None,
    aggregate: Annotated[
        UUID | None, typer.Option(parser=parse_uuid, metavar="ID", help="Only this aggregate.")
    ] = None,
    since: Moment = None,
    until: Moment = None,
    lang: Lang = Language.EN,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """One page of the global log in commit order, filtered."""
    log_filter = LogFilter(
        actor=actor,
        event_types=tuple(event_type or ()),
        aggregate_id=aggregate,
        since=since,
        until=until,
    )
    with open_audit(database_url) as service:
        page = service.log_page(log_filter, after=after, limit=limit)
        if as_json:
            echo_json(
                {
                    "entries": [entry.as_dict() for entry in page.entries],
                    "next_after": page.next_after,
                }
            )
            return
        for entry in page.entries:
            echo_entry(entry, service, lang, changes=False)
        if page.next_after is not None:
            typer.echo(f"… more after position {page.next_after}: --after {page.next_after}")


@app.command()
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write, or - for standard output.")
    ],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="JSON Lines or CSV.")
    ] = ExportFormat.JSONL,
    actor: Annotated[str | None, typer.Option(help="Only this user id's events.")] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable).")
    ] = None,
    aggregate: Annotated[
        UUID | None, typer.Option(parser=parse_uuid, metavar="ID", help="Only this aggregate.")
    ] = None,
    since: Moment = None,
    until: Moment = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export the log (or a filtered part), streamed: memory does not grow with the log."""
    log_filter = LogFilter(
        actor=actor,
        event_types=tuple(event_type or ()),
        aggregate_id=aggregate,
        since=since,
        until=until,
    )
    with open_audit(database_url) as service:
        chunks = (
            service.export_jsonl(log_filter)
            if export_format == ExportFormat.JSONL
            else service.export_csv(log_filter)
        )
        if str(output) == "-":
            for chunk in chunks:
                sys.stdout.write(chunk)
            return
        count = 0
        with output.open("w", encoding="utf-8", newline="") as file:
            for chunk in chunks:
                file.write(chunk)
                count += chunk.count("\n") if export_format == ExportFormat.JSONL else 0
        counted = f"{count} events " if export_format == ExportFormat.JSONL else ""
        typer.echo(f"Exported {counted}to {output} ({export_format.value}).", err=True)


@app.command()
def head(database_url: DatabaseUrl = None) -> None:
    """Print the chain's head as HASH@POSITION: keep it elsewhere, check with --anchor."""
    with open_audit(database_url) as service:
        link = service.head()
        if link is None:
            raise fail("the hash chain is empty: nothing has been chained yet")
        typer.echo(link.anchor)


@app.command()
def chain(
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep following the log until stopped (a worker, for "
            "RECTIFY_PROJECTIONS=external deployments).",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Bring the hash chain up to date with the log (what its follower does);
    --follow is `rectify followers run audit_chain`."""
    if follow:
        follow_chain(database_url)
        return
    with open_audit(database_url) as service:
        added = service.catch_up()
        link = service.head()
        typer.echo(f"Chained {added} new events; head {link.anchor if link else '(empty)'}")


def follow_chain(database_url: str | None) -> None:
    """Run the chain's follower in this process until SIGINT or SIGTERM: another
    name for ``rectify followers run audit_chain``."""
    run_followers(database_url, ("audit_chain",))


@app.command()
def verify(
    anchor: Annotated[
        Anchor | None,
        typer.Option(
            parser=parse_anchor,
            metavar="HASH@POSITION",
            help="A head printed earlier; the log must still recompute to it.",
        ),
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up",
            help="Chain events the projection has not reached yet before verifying.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Recompute the hash chain from the events: print OK with the count and head hash,
    or the first position that was altered, deleted or inserted, and exit 1."""
    with open_audit(database_url) as service:
        if catch_up:
            service.catch_up()
        report = service.verify(anchor)
    echo_report(report)
    if not report.ok:
        raise typer.Exit(1)


def echo_report(report: VerifyReport) -> None:
    if report.problem is not None:
        typer.echo(f"FAILED at position {report.problem.position}: {report.problem.message}")
        typer.echo(f"  {report.checked} events matched their links before it.")
        return
    head_text = report.head.anchor if report.head else "(empty chain)"
    typer.echo(f"OK: {report.checked} events verified; head {head_text}")
    if report.anchor is not None:
        typer.echo(f"  anchor {report.anchor} matches")
    if report.unchained:
        typer.echo(
            f"  {report.unchained} events after the head are not chained yet "
            "(the projection worker chains them; or run `rectify audit chain`)"
        )
