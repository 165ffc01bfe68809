"""Read models over HTTP: work queues, case search, a site's history, the
dashboard, and ``/health``.

**Read your own writes.** Every command answers with the log position of its
last event (``position``, ``X-Log-Position``). Send it back with a query —
``?after=<position>`` or the request header ``X-Log-Position`` — and the query
waits (up to 2 s) until the read model has applied that event. Every answer
carries ``X-Read-Model-Position`` (how far the read model had got) and
``X-Read-Model-Lag`` (how many positions it was behind the log); if it did not
reach the asked position in time, the answer comes anyway, with
``X-Read-Model-Behind`` saying by how many positions it fell short.

**Who sees what.** A responsible party sees only the orders addressed to them
and their cases; the site history and the dashboard are not theirs to read
(403). ``mine=true`` narrows a queue to the caller's own: inspections whose team
they are on; cases and orders of those inspections or of orders they issued.

The app's lifespan runs the followers that keep the read models (see
:mod:`infrastructure.followers`); this router only reads what they wrote.
``/health`` reports every follower of the log, not only the read models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from application.ports import MAX_POSITION
from application.projections.access import Scope, require_staff, scope_for
from domain.hazard import HazardStatus
from infrastructure.persistence import is_database_unavailable
from infrastructure.projections.host import ReadModels
from infrastructure.readmodels.queries import QUEUES, SORTS, BadCursor, CaseFilter, Page
from infrastructure.users import User
from interfaces.http.middleware import DATABASE_RETRY_AFTER_SECONDS
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import MAX_OFFSET, Anyone
from interfaces.http.validation import NO_NUL

WAIT_SECONDS = 2.0

QUERY_ERRORS = problem_responses(400, 401, 403, 404, 422)


router = APIRouter(tags=["read models"])


async def read_models(request: Request) -> ReadModels:
    host = getattr(request.app.state, "read_models", None)
    if host is None:
        raise ProblemError(
            503, "the read models are not running in this process", rule="read_models_not_started"
        )
    return host


Host = Annotated[ReadModels, Depends(read_models)]


# -- read your own writes ------------------------------------------------------------


def _position_from(after: int | None, header: str | None) -> int | None:
    if after is not None:
        return after
    if header is None:
        return None
    # The header's pattern lets only 1 to 19 digits through; 19 digits can
    # still pass what a database integer holds.
    value = int(header)
    if value > MAX_POSITION:
        raise ProblemError(
            400, "X-Log-Position must be between 0 and 2^63-1", rule="log_position_invalid"
        )
    return value


def consistent(*names: str) -> Callable[..., int | None]:
    """A dependency that waits for projections ``names`` to reach the asked
    position and reports, in headers, how far they are."""

    def dependency(
        response: Response,
        host: Host,
        after: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_POSITION,
                description="Wait until the read model has applied this log position.",
            ),
        ] = None,
        x_log_position: Annotated[
            str | None,
            Header(description="Same as `after`.", pattern="^[0-9]{1,19}$"),
        ] = None,
    ) -> int | None:
        wanted = _position_from(after, x_log_position)
        if wanted is not None:
            # A position a command returned is committed, so it is at or below
            # the head; one beyond it can never be reached, and waiting for it
            # would only hold the caller (and a worker thread) for nothing.
            head = host.head()
            if wanted > head:
                raise ProblemError(
                    422,
                    f"log position {wanted} is ahead of the log, whose newest event is at "
                    f"{head}: ask with a position a command returned",
                    rule="log_position_ahead",
                )
            reached = host.wait_for(wanted, names, timeout=WAIT_SECONDS)
        else:
            reached = host.positions(names)
        position = min((p or 0) for p in reached.values())
        response.headers["X-Read-Model-Position"] = str(position)
        response.headers["X-Read-Model-Lag"] = str(max(0, host.head() - position))
        if wanted is not None and position < wanted:
            response.headers["X-Read-Model-Behind"] = str(wanted - position)
        return wanted

    return dependency


CasesReady = Depends(consistent("cases"))
HistoryReady = Depends(consistent("site_history", "cases"))


# -- response models ------------------------------------------------------------------


class InspectionRow(BaseModel):
    """An inspection in a work queue."""

    inspection_id: str
    site_id: str
    site_name: str
    region: str
    template_code: str
    template_version: int
    status: str
    opened_at: str
    opened_by: str
    opened_by_name: str
    items_total: int
    items_recorded: int
    hazards: int


class OrderRow(BaseModel):
    """A rectification order (整改通知) in a work queue, with its case and site."""

    order_id: str
    number: str
    case_id: str
    site_id: str
    site_name: str
    region: str
    severity: str
    case_status: str
    category: str
    description: str
    status: str
    deadline: str
    attempt: int
    party_name: str
    party_contact: str
    party_user_id: str | None
    measures: str
    issued_at: str
    issued_by: str
    issued_by_name: str
    acknowledged_at: str | None
    overdue: bool
    overdue_since: str | None
    escalated: bool
    extension_deadline: str | None
    extension_reason: str | None
    extension_requested_at: str | None
    extension_requested_by: str | None
    completion_reported_at: str | None


class CaseRow(BaseModel):
    """A case (one hazard) with its site and its latest order."""

    case_id: str
    site_id: str
    site_name: str
    region: str
    inspection_id: str
    item_code: str | None
    category: str
    description: str
    location: str
    severity: str
    status: str
    fixed_on_spot: bool
    reported_at: str
    reported_by_name: str
    awaiting_since: str | None
    verified_at: str | None
    verified_by: str | None
    verified_by_name: str | None
    closed_at: str | None
    closed_by_name: str | None
    dismissed_at: str | None
    last_activity_at: str
    order_id: str | None
    order_number: str | None
    order_status: str | None
    deadline: str | None
    party_name: str | None
    party_user_id: str | None


class PageOf(BaseModel):
    """One page of a list: ``total`` rows in all (at least, when not
    ``total_exact``), ``limit`` from ``offset``."""

    total: int = Field(
        description="How many rows match: exactly if total_exact, else at least this many "
        "(counting stops 1000 rows past the offset)."
    )
    total_exact: bool = Field(
        description="Whether total is the exact count; false when more rows match "
        "than were counted."
    )
    limit: int
    offset: int


class InspectionPage(PageOf):
    items: list[InspectionRow]


class OrderPage(PageOf):
    items: list[OrderRow]


class CasePage(PageOf):
    items: list[CaseRow]
    next_cursor: str | None = Field(
        default=None,
        description="Give as cursor to get the page after this one (null on the last page).",
    )


class HistoryEntry(BaseModel):
    """One thing that happened at a site, at its position in the log."""

    position: int
    occurred_at: str
    kind: str = Field(examples=["order.issued"])
    subject_kind: str = Field(examples=["order"])
    subject_id: str
    subject_version: int
    case_id: str | None
    summary: str
    reason: str | None
    actor_id: str
    actor_name: str
    actor_role: str


class SiteSummary(BaseModel):
    site_id: str
    name: str
    region: str
    address: str
    operator: str
    contact: str
    kind: str
    registered_at: str
    inspections: int
    open_cases: int
    closed_cases: int


class SitePage(PageOf):
    items: list[SiteSummary]


class SiteHistory(PageOf):
    """A site and what happened there."""

    site: SiteSummary | None
    items: list[HistoryEntry]


class MonthFigures(BaseModel):
    month: str = Field(examples=["2022-04"])
    severity: str
    reported: int
    closed: int


class Dashboard(BaseModel):
    """The supervisors' figures (see each field)."""

    by_month: list[MonthFigures] = Field(
        description="Per month (local calendar) and severity: cases reported, cases closed."
    )
    open_by_severity: dict[str, int]
    closed_by_severity: dict[str, int]
    orders_due: int = Field(description="Orders fulfilled, past their deadline or overdue.")
    orders_overdue: int = Field(description="Of those, the orders that became overdue.")
    overdue_rate: float | None
    first_verifications: int
    first_verifications_passed: int
    first_pass_verification_rate: float | None
    closed_cases: int
    median_days_to_close: float | None = Field(description="From report to close.")


class ProjectionState(BaseModel):
    name: str
    position: int | None = Field(description="The last log position the read model applied.")
    lag: int = Field(description="Log positions it is behind the head of the log.")
    running: bool | None = Field(description="Runs in this process (None: in workers).")
    leader: bool | None = Field(description="This process is the one advancing it.")
    error: str | None


class FollowerState(BaseModel):
    name: str = Field(examples=["audit_chain"])
    kind: str = Field(
        examples=["log"],
        description="`log`: follows the log in order; `periodic`: a job run every so often.",
    )
    position: int | None = Field(description="The last log position it processed (log only).")
    lag: int | None = Field(description="Log positions it is behind the head (log only).")
    running: bool | None = Field(description="Runs in this process (None: in workers).")
    leader: bool | None = Field(description="This process is the one advancing it.")
    error: str | None
    last_run: datetime | None = Field(description="When a periodic job last ran here.")


class Health(BaseModel):
    status: str = Field(examples=["ok"], description="`ok`, or `degraded` if a follower failed.")
    head: int = Field(description="The last position of the event log.")
    projections: list[ProjectionState] = Field(description="The read models' followers.")
    followers: list[FollowerState] = Field(
        description="Every follower of the log: read models, the audit chain, periodic jobs."
    )


# -- endpoints ------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=200)]
Region = Annotated[str | None, Query(pattern=NO_NUL, description="A county or district.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Mine = Annotated[bool, Query(description="Only what concerns me.")]

_PAGE_MODELS: dict[str, type[PageOf]] = {
    "open-inspections": InspectionPage,
    "orders-due-soon": OrderPage,
    "orders-overdue": OrderPage,
    "pending-extensions": OrderPage,
    "awaiting-verification": CasePage,
    "awaiting-closure": CasePage,
}

_QUEUE_DOCS = {
    "open-inspections": "Open inspections (mine: whose team I am on).",
    "orders-due-soon": "Orders not yet overdue whose deadline is within 3 days (today included).",
    "orders-overdue": "Orders recorded overdue and still awaiting a completion report.",
    "pending-extensions": "Orders with an extension request awaiting a supervisor's decision.",
    "awaiting-verification": "Cases whose completion report (or on-the-spot fix) awaits "
    "verification (复查).",
    "awaiting-closure": "Verified cases awaiting a supervisor's closing signature (销号).",
}


def _page(model: type[PageOf], page: Page) -> Any:
    return model.model_validate(
        {
            "items": page.items,
            "total": page.total,
            "total_exact": page.total_exact,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


def _scope(user: User, mine: bool) -> Scope:
    return scope_for(user.user_id, user.role, mine=mine)


def _add_queue(queue: str) -> None:
    model = _PAGE_MODELS[queue]

    def endpoint(
        user: Anyone,
        host: Host,
        mine: Mine = False,
        limit: Limit = 50,
        offset: Offset = 0,
        _after: int | None = CasesReady,
    ) -> Any:
        today = host.app.today()
        return _page(
            model,
            host.queries.queue(queue, _scope(user, mine), today=today, limit=limit, offset=offset),
        )

    endpoint.__name__ = "queue_" + queue.replace("-", "_")
    endpoint.__doc__ = _QUEUE_DOCS[queue] + " A responsible party sees only their own."
    router.add_api_route(
        f"/queues/{queue}",
        endpoint,
        methods=["GET"],
        response_model=model,
        responses=QUERY_ERRORS,
        summary=_QUEUE_DOCS[queue].split(" (")[0].rstrip("."),
    )


for _queue in QUEUES:
    _add_queue(_queue)


@dataclass(frozen=True)
class CaseSearch:
    """What a case search asks: its filters, its order, and whether only my own."""

    filters: CaseFilter
    sort: str
    descending: bool
    mine: bool


def case_search(
    site_id: Annotated[UUID | None, Query(description="A site's id.")] = None,
    region: Region = None,
    severity: Annotated[str | None, Query(pattern="^(general|major)$")] = None,
    status: Annotated[list[HazardStatus] | None, Query(description="One or more.")] = None,
    party: Annotated[
        str | None,
        Query(pattern=NO_NUL, description="Part of a responsible party's name, or their user id."),
    ] = None,
    reported_from: date | None = None,
    reported_to: date | None = None,
    closed_from: date | None = None,
    closed_to: date | None = None,
    sort: Annotated[
        str, Query(description=f"One of: {', '.join(SORTS)}.", json_schema_extra={"enum": [*SORTS]})
    ] = "reported_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    mine: Mine = False,
) -> CaseSearch:
    """The case search's query parameters, shared by ``/cases`` and the ledger
    (``/cases.xlsx``, ``/cases.csv``), so both find the same cases."""
    if sort not in SORTS:
        raise ProblemError(
            422, f"cannot sort by {sort!r}; choose one of {', '.join(SORTS)}", rule="sort_invalid"
        )
    filters = CaseFilter(
        site_id=site_id,
        region=region,
        severity=severity,
        statuses=tuple(s.value for s in status or ()),
        party=party,
        reported_from=reported_from,
        reported_to=reported_to,
        closed_from=closed_from,
        closed_to=closed_to,
    )
    return CaseSearch(filters, sort, order == "desc", mine)


SearchOf = Annotated[CaseSearch, Depends(case_search)]


@router.get("/cases", response_model=CasePage, responses=QUERY_ERRORS)
def search_cases(
    user: Anyone,
    host: Host,
    search: SearchOf,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="The next_cursor of the previous page, with the same filters and "
            "order: the page after it, as quick however deep (offset must then be 0).",
        ),
    ] = None,
    _after: int | None = CasesReady,
) -> Any:
    """Search cases by site, region, severity, status, responsible party and dates
    (report and close, inclusive, local calendar), sorted and paginated."""
    if cursor is not None and offset:
        raise ProblemError(422, "give either offset or cursor, not both", rule="cursor_invalid")
    try:
        page = host.queries.search_cases(
            _scope(user, search.mine),
            search.filters,
            sort=search.sort,
            descending=search.descending,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    except BadCursor as error:
        raise ProblemError(422, str(error), rule="cursor_invalid") from error
    body = _page(CasePage, page)
    body.next_cursor = page.next_cursor
    return body


@router.get("/sites", response_model=SitePage, responses=QUERY_ERRORS)
def list_sites(
    user: Anyone,
    host: Host,
    region: Region = None,
    limit: Limit = 50,
    offset: Offset = 0,
    _after: int | None = CasesReady,
) -> Any:
    """Registered sites, by region and name, with how many inspections and open and
    closed cases each has. Not for responsible parties."""
    require_staff(user.role, "the list of sites")
    return _page(SitePage, host.queries.sites(region=region, limit=limit, offset=offset))


@router.get("/sites/{site_id}/history", response_model=SiteHistory, responses=QUERY_ERRORS)
def site_history(
    site_id: UUID,
    user: Anyone,
    host: Host,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Offset = 0,
    _after: int | None = HistoryReady,
) -> Any:
    """Everything that happened at a site, in log order: registration, inspections
    and their items, hazards, orders, verifications, closes. Not for responsible parties."""
    require_staff(user.role, "a site's history")
    site = host.queries.site(site_id)
    page = host.queries.site_history(
        site_id, newest_first=order == "desc", limit=limit, offset=offset
    )
    if site is None and page.total == 0:
        raise ProblemError(404, f"no site {site_id} in the read models", rule="not_found")
    return SiteHistory.model_validate(
        {
            "site": site,
            "items": page.items,
            "total": page.total,
            "total_exact": page.total_exact,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


@router.get("/dashboard", response_model=Dashboard, responses=QUERY_ERRORS)
def dashboard(
    user: Anyone,
    host: Host,
    region: Region = None,
    _after: int | None = CasesReady,
) -> Any:
    """Open and closed cases by severity and month, overdue rate, first-pass
    verification rate, median days from report to close. Not for responsible parties."""
    require_staff(user.role, "the dashboard")
    return Dashboard.model_validate(host.queries.dashboard(today=host.app.today(), region=region))


class Liveness(BaseModel):
    status: str = Field(examples=["alive"])


class DatabaseDown(BaseModel):
    status: str = Field(examples=["down"])
    database: str = Field(examples=["unreachable"])
    detail: str


@router.get("/health/live", response_model=Liveness)
def liveness() -> Liveness:
    """The process answers: no database is asked, so a supervisor restarts only a
    process that is stuck, not every process while the database is away."""
    return Liveness(status="alive")


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": DatabaseDown, "description": "The database cannot be reached."}},
)
def health(host: Host) -> Any:
    """Each read model's position and lag behind the event log; no login needed.
    503 (``status: down``) within about a second when the database cannot be reached."""
    try:
        return _health(host)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            content=DatabaseDown(
                status="down",
                database="unreachable",
                detail=f"the database cannot be reached: {type(error).__name__}",
            ).model_dump(),
        )


def _health(host: ReadModels) -> Health:
    """Each follower's position and lag behind the event log."""
    followers = host.followers.health()
    head = host.head()
    failed = bool(host.followers.failed)
    return Health(
        status="degraded" if failed else "ok",
        head=head,
        projections=[
            ProjectionState(
                name=s.name,
                position=s.position,
                lag=s.lag or 0,
                running=s.running,
                leader=s.leader,
                error=s.error,
            )
            for s in host.health()
        ],
        followers=[FollowerState(**asdict(s), lag=s.lag) for s in followers],
    )
