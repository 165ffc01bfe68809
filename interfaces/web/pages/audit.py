"""Reading: case search, the dashboard as charts, and the auditor's pages — a case as
of a time or version, the global log with filters and exports, the integrity check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from application.audit import LogFilter
from application.audit.describe import event_classes, event_type_of
from application.errors import ApplicationError, NotFound
from application.projections.access import scope_for
from domain.errors import DomainError
from domain.hazard import HazardStatus
from domain.values import Role
from infrastructure.readmodels.queries import CaseFilter
from interfaces.web import deps
from interfaces.web.charts import bar_chart, month_chart
from interfaces.web.core import render, require_viewer
from interfaces.web.messages import N_, error_for
from interfaces.web.reads import as_of_read_models, caught_up

router = APIRouter()

STAFF = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR)
AUDITING = (Role.AUDITOR, Role.SUPERVISOR)
LOG_PAGE = 100

CHAIN_PROBLEMS = {
    "altered": N_("The event at position %(p)s was altered after it was recorded."),
    "deleted": N_("The event at position %(p)s was deleted."),
    "inserted": N_("The event at position %(p)s was inserted out of band."),
    "anchor_mismatch": N_("The log does not recompute to the written-down head at %(p)s."),
    "anchor_not_chained": N_("The chain does not reach position %(p)s yet."),
}


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _moment(raw: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@router.get("/ui/search")
async def search(request: Request) -> Response:
    viewer = require_viewer(request, *STAFF)
    params = request.query_params

    def page() -> Response:
        caught_up(request, ("cases",))
        statuses = tuple(s for s in params.getlist("status") if s in set(HazardStatus))
        filters = CaseFilter(
            region=params.get("region") or None,
            severity=params.get("severity")
            if params.get("severity") in ("general", "major")
            else None,
            statuses=statuses,
            party=params.get("party") or None,
            reported_from=_date(params.get("reported_from")),
            reported_to=_date(params.get("reported_to")),
        )
        offset = int(params.get("offset", "0")) if params.get("offset", "0").isdigit() else 0
        found = deps.work_lists(request).search(
            scope_for(viewer.user.user_id, viewer.role), filters, limit=50, offset=offset
        )
        return render(
            request,
            "search.html",
            viewer,
            cases=found.items,
            total=found.total,
            offset=offset,
            statuses=[s.value for s in HazardStatus],
            chosen=statuses,
            params=params,
            ledger_query=_ledger_query(filters),
        )

    return await run_in_threadpool(page)


def _ledger_query(filters: CaseFilter) -> str:
    """The search's filters as the ledger's query (the API's ``/cases`` parameters)."""
    pairs = [
        (name, value)
        for name, value in (
            ("region", filters.region),
            ("severity", filters.severity),
            ("party", filters.party),
            ("reported_from", filters.reported_from and filters.reported_from.isoformat()),
            ("reported_to", filters.reported_to and filters.reported_to.isoformat()),
        )
        if value
    ]
    pairs += [("status", status) for status in filters.statuses]
    return urlencode(pairs)


@router.get("/ui/dashboard")
async def dashboard(request: Request) -> Response:
    viewer = require_viewer(request, *STAFF)

    def page() -> Response:
        caught_up(request, ("cases",))
        app = deps.rectify(request)
        today = app.today()
        figures = as_of_read_models(
            request,
            ("dashboard", today),
            ("cases",),
            lambda: deps.read_models(request).queries.dashboard(today=today),
        )
        return render(
            request,
            "dashboard.html",
            viewer,
            figures=figures,
            by_severity=bar_chart(
                [
                    (
                        "general",
                        figures["open_by_severity"].get("general", 0),
                        figures["closed_by_severity"].get("general", 0),
                    ),
                    (
                        "major",
                        figures["open_by_severity"].get("major", 0),
                        figures["closed_by_severity"].get("major", 0),
                    ),
                ]
            ),
            by_month=month_chart(figures["by_month"]),
        )

    return await run_in_threadpool(page)


@router.get("/ui/cases/{case_id}/as-of")
async def as_of(request: Request, case_id: UUID) -> Response:
    viewer = require_viewer(request, Role.AUDITOR, Role.SUPERVISOR)
    params = request.query_params

    def page() -> Response:
        audit = deps.audit(request)
        timeline = audit.timeline(case_id)
        versions = [e.version for e in timeline.entries if e.aggregate_id == case_id]
        latest = max(versions) if versions else 1
        raw_version = params.get("version", "")
        at = _moment(params.get("at"))
        version = int(raw_version) if raw_version.isdigit() else None
        if version is None and at is None:
            version = latest
        error = None
        state = None
        try:
            state = audit.case_state(case_id, at=at, version=version if at is None else None)
        except NotFound as refused:
            if refused.kind != "version":
                raise
            error = error_for("version_not_in_history")
        except (DomainError, ApplicationError) as refused:
            error = error_for(refused.rule)
        return render(
            request,
            "as_of.html",
            viewer,
            422 if error else 200,
            case_id=case_id,
            state=state,
            version=version,
            latest=latest,
            at=params.get("at", ""),
            error=error,
        )

    return await run_in_threadpool(page)


def _log_filter(request: Request) -> LogFilter:
    params = request.query_params
    known = {event_type_of(c) for c in event_classes()}
    types = tuple(t for t in params.getlist("type") if t in known)
    aggregate = params.get("aggregate") or None
    try:
        aggregate_id = UUID(aggregate) if aggregate else None
    except ValueError:
        aggregate_id = None
    return LogFilter(
        actor=params.get("actor") or None,
        event_types=types,
        aggregate_id=aggregate_id,
        since=_moment(params.get("since")),
        until=_moment(params.get("until")),
    )


@router.get("/ui/audit/log")
async def log(request: Request) -> Response:
    viewer = require_viewer(request, *AUDITING)

    def page() -> Response:
        after_raw = request.query_params.get("from", "0")
        after = int(after_raw) if after_raw.isdigit() and len(after_raw) < 19 else 0
        found = deps.audit(request).log_page(_log_filter(request), after=after, limit=LOG_PAGE)
        query = str(request.url.query)
        return render(
            request,
            "log.html",
            viewer,
            entries=found.entries,
            next_after=found.next_after,
            event_types=sorted({event_type_of(c) for c in event_classes()}),
            params=request.query_params,
            export_query="&".join(
                part for part in query.split("&") if part and not part.startswith("from=")
            ),
        )

    return await run_in_threadpool(page)


def _export(request: Request, kind: str) -> Response:
    require_viewer(request, *AUDITING)
    audit = deps.audit(request)
    log_filter = _log_filter(request)
    chunks: Iterator[str] = (
        audit.export_jsonl(log_filter) if kind == "jsonl" else audit.export_csv(log_filter)
    )
    media = "application/x-ndjson" if kind == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(
        (chunk.encode() for chunk in chunks),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="rectify-log.{kind}"'},
    )


@router.get("/ui/audit/export.jsonl")
def export_jsonl(request: Request) -> Response:
    return _export(request, "jsonl")


@router.get("/ui/audit/export.csv")
def export_csv(request: Request) -> Response:
    return _export(request, "csv")


@router.get("/ui/audit/integrity")
async def integrity(request: Request) -> Response:
    viewer = require_viewer(request, *AUDITING)

    def page() -> Response:
        audit = deps.audit(request)
        # Recomputing the chain reads every event: it runs when the auditor asks,
        # not each time the page is opened; the head alone is one row.
        report = audit.verify() if request.query_params.get("verify") else None
        problem = None
        if report is not None and report.problem is not None:
            problem = CHAIN_PROBLEMS.get(str(report.problem.kind), "%(p)s"), report.problem.position
        head = report.head if report is not None else audit.head()
        return render(request, "integrity.html", viewer, report=report, problem=problem, head=head)

    return await run_in_threadpool(page)


@router.get("/ui/evidence/{sha256}")
def evidence(request: Request, sha256: str) -> Response:
    """A photo a record cites, to everyone signed in who may see the records."""
    require_viewer(request)
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise NotFound("evidence", sha256)
    found = deps.evidence(request).get(sha256)
    if found is None:
        raise NotFound("evidence", sha256)
    media = found.evidence.media_type
    inline = media.startswith("image/") and media != "image/svg+xml"
    return Response(
        found.data,
        media_type=media if inline else "application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )
