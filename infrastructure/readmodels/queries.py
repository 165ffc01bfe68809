"""Queries over the read models: work queues, case search, a site's history,
dashboards; the same SQL on SQLite and PostgreSQL.

Every query takes a :class:`~application.projections.access.Scope` (which rows
the reader may see) and returns plain dicts, the columns named as below.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from application.projections.access import Scope
from application.projections.formats import parse_ts
from infrastructure.readmodels.store import ReadModelStore

MAX_PAGE = 200

COUNT_CAP = 1000
"""A page's ``total`` is counted up to this many rows past the page's offset and no
further: counting every match of a broad filter over a million cases costs more
than the page itself. Past it, ``total_exact`` is false and ``total`` a lower bound."""

QUEUES = (
    "open-inspections",
    "orders-due-soon",
    "orders-overdue",
    "awaiting-verification",
    "awaiting-closure",
    "pending-extensions",
)
"""The work queues, by the name the HTTP API and the CLI use."""

DUE_SOON_DAYS = 3

SORTS = {
    "reported_at": "c.reported_at",
    "last_activity_at": "c.last_activity_at",
    "severity": "c.severity",
    "status": "c.status",
    "site": "s.name",
    "deadline": "o.deadline",
    "closed_at": "c.closed_at",
}
"""How the case search may be sorted, by the name a client gives."""

_NEVER_EMPTY_SORTS = frozenset({"reported_at", "last_activity_at", "severity", "status"})
"""Sorts on columns every case has: their ORDER BY says nothing of NULLs, so an
index on the column (``schema.CASES.sort_indexes``) gives the order read forwards
or backwards; an index gives NULLS LAST in only one of the two directions."""


@dataclass(frozen=True)
class Page:
    """One page of rows, and how many there are in all: exactly when
    ``total_exact``, else at least ``total`` (see :data:`COUNT_CAP`)."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    total_exact: bool = True
    next_cursor: str | None = None


class BadCursor(ValueError):
    """A search's ``cursor`` that this search did not hand out."""


_SORT_FIELDS = {
    "reported_at": "reported_at",
    "last_activity_at": "last_activity_at",
    "severity": "severity",
    "status": "status",
    "site": "site_name",
    "deadline": "deadline",
    "closed_at": "closed_at",
}
"""The row field that holds each sort's key, for the cursor after a page."""


def encode_cursor(sort: str, descending: bool, key: Any, case_id: str) -> str:
    """An opaque token for "the rows after this one, in this order"."""
    text = json.dumps([sort, descending, key, case_id], ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[str | None, str]:
    """The sort key and case id a cursor continues after; :class:`BadCursor` if it is
    not one this search (same sort, same direction) handed out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        given_sort, given_descending, key, case_id = value
    except (ValueError, TypeError, UnicodeError) as error:
        raise BadCursor("the cursor is not one a case search handed out") from error
    if (given_sort, given_descending) != (sort, descending):
        raise BadCursor("the cursor belongs to a search in another order; start again without it")
    if not isinstance(case_id, str) or not (key is None or isinstance(key, str)):
        raise BadCursor("the cursor is not one a case search handed out")
    return key, case_id


@dataclass(frozen=True)
class CaseFilter:
    """What the case search filters on; every field optional, all must match."""

    site_id: UUID | None = None
    region: str | None = None
    severity: str | None = None
    statuses: Sequence[str] = ()
    party: str | None = None
    reported_from: date | None = None
    reported_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


_SITE_COLUMNS = "s.name AS site_name, s.region AS region"

_INSPECTION_FROM = "\n  FROM rm_inspections i JOIN rm_sites s ON s.site_id = i.site_id"
_INSPECTION_SELECT = f"""
SELECT i.inspection_id, i.site_id, {_SITE_COLUMNS}, i.template_code, i.template_version,
       i.status, i.opened_at, i.opened_by, i.opened_by_name, i.items_total,
       (SELECT COUNT(*) FROM rm_inspection_items it
         WHERE it.inspection_id = i.inspection_id) AS items_recorded,
       (SELECT COUNT(*) FROM rm_cases hc WHERE hc.inspection_id = i.inspection_id) AS hazards
{_INSPECTION_FROM}"""

_ORDER_FROM = """
  FROM rm_orders o
  JOIN rm_cases c ON c.case_id = o.case_id
  JOIN rm_sites s ON s.site_id = c.site_id"""
_ORDER_SELECT = f"""
SELECT o.order_id, o.number, o.case_id, c.site_id, {_SITE_COLUMNS}, c.severity,
       c.status AS case_status, c.category, c.description, o.status, o.deadline, o.attempt,
       o.party_name, o.party_contact, o.party_user_id, o.measures, o.issued_at, o.issued_by,
       o.issued_by_name, o.acknowledged_at, o.overdue, o.overdue_since, o.escalated,
       o.extension_deadline, o.extension_reason, o.extension_requested_at,
       o.extension_requested_by, o.completion_reported_at{_ORDER_FROM}"""

_CASE_FROM = """
  FROM rm_cases c
  JOIN rm_sites s ON s.site_id = c.site_id
  LEFT JOIN rm_orders o ON o.order_id = c.latest_order_id"""
_CASE_SELECT = f"""
SELECT c.case_id, c.site_id, {_SITE_COLUMNS}, c.inspection_id, c.item_code, c.category,
       c.description, c.location, c.severity, c.status, c.fixed_on_spot, c.reported_at,
       c.reported_by_name, c.awaiting_since, c.verified_at, c.verified_by, c.verified_by_name,
       c.closed_at, c.closed_by_name, c.dismissed_at, c.last_activity_at,
       o.order_id, o.number AS order_number, o.status AS order_status,
       o.deadline, o.party_name, o.party_user_id{_CASE_FROM}"""

_LEDGER_SELECT = _CASE_SELECT.replace(
    "o.deadline, o.party_name, o.party_user_id\n",
    "o.deadline, o.party_name, o.party_user_id,\n"
    "       v.attempt AS verification_attempt, v.passed AS verification_passed,\n"
    "       v.performed_at AS verified_on, v.verifier_name,\n"
    "       v.findings AS verification_findings\n",
) + (
    # The case's latest verification: a correlated lookup through rm_verifications'
    # case index, the same on SQLite and PostgreSQL.
    "\n  LEFT JOIN rm_verifications v ON v.verification_id = ("
    "SELECT lv.verification_id FROM rm_verifications lv WHERE lv.case_id = c.case_id "
    "ORDER BY lv.performed_at DESC, lv.verification_id DESC LIMIT 1)"
)

_ON_TEAM = (
    "EXISTS (SELECT 1 FROM rm_inspection_inspectors ii "
    "WHERE ii.inspection_id = {inspection} AND ii.user_id = ?)"
)
# What a user is involved in, as one set of ids the database finds from its indexes
# (their team memberships, the orders they issued) and joins to: the same rows as
# "issued the case's latest order, or is on its inspection's team", but without
# testing that on every case or order in turn, which at a million cases takes seconds.
INVOLVED_CASES = (
    "c.case_id IN ("
    "SELECT ic.case_id FROM rm_inspection_inspectors ii"
    " JOIN rm_cases ic ON ic.inspection_id = ii.inspection_id WHERE ii.user_id = ?"
    " UNION SELECT io.case_id FROM rm_orders io WHERE io.issued_by = ?"
    " AND io.order_id = (SELECT lc.latest_order_id FROM rm_cases lc"
    " WHERE lc.case_id = io.case_id))"
)
INVOLVED_ORDERS = (
    "o.order_id IN ("
    "SELECT io.order_id FROM rm_orders io WHERE io.issued_by = ?"
    " UNION SELECT io.order_id FROM rm_inspection_inspectors ii"
    " JOIN rm_cases ic ON ic.inspection_id = ii.inspection_id"
    " JOIN rm_orders io ON io.case_id = ic.case_id WHERE ii.user_id = ?)"
)
_PARTY_OF_CASE = (
    "EXISTS (SELECT 1 FROM rm_orders po WHERE po.case_id = c.case_id AND po.party_user_id = ?)"
)


_SITE_FROM = "\n  FROM rm_sites s"
_SITE_SELECT = f"""SELECT s.*,
       (SELECT COUNT(*) FROM rm_inspections i WHERE i.site_id = s.site_id) AS inspections,
       (SELECT COUNT(*) FROM rm_cases c WHERE c.site_id = s.site_id
         AND c.status IN ('reported', 'rectifying', 'awaiting_verification', 'verified'))
         AS open_cases,
       (SELECT COUNT(*) FROM rm_cases c WHERE c.site_id = s.site_id
         AND c.status = 'closed') AS closed_cases{_SITE_FROM}"""


def _order_scope(where: _Where, scope: Scope) -> None:
    if scope.party_user_id is not None:
        where.add("o.party_user_id = ?", scope.party_user_id)
    elif scope.involved_user_id is not None:
        where.add(INVOLVED_ORDERS, scope.involved_user_id, scope.involved_user_id)


def _case_scope(where: _Where, scope: Scope) -> None:
    if scope.party_user_id is not None:
        where.add(_PARTY_OF_CASE, scope.party_user_id)
    elif scope.involved_user_id is not None:
        where.add(INVOLVED_CASES, scope.involved_user_id, scope.involved_user_id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ReadModelQueries:
    """The questions people ask of the read models."""

    def __init__(self, store: ReadModelStore) -> None:
        self.store = store
        self.dialect = store.dialect
        self.count_cap = COUNT_CAP

    # -- plumbing --------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.store.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._q(sql), list(params))
            return [dict(row) for row in cursor.fetchall()]

    def _page(
        self,
        select: str,
        source: str,
        where: _Where,
        order_by: str,
        limit: int,
        offset: int,
        after: _Where | None = None,
    ) -> Page:
        """One page of ``select`` (whose FROM and joins are ``source``), with its
        total counted up to ``count_cap`` (:data:`COUNT_CAP`) rows past ``offset``."""
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        condition = where.sql()
        with self.store.datastore.transaction(commit=False) as cursor:
            total, exact = _bounded_count(
                cursor, self._q, source, where, offset + max(limit, self.count_cap)
            )
            if after is not None:  # the rows past a cursor; the total is the whole search's
                condition = _Where(where.clauses + after.clauses, where.params + after.params).sql()
                params = [*where.params, *after.params, limit, offset]
            else:
                params = [*where.params, limit, offset]
            cursor.execute(
                self._q(f"{select}{condition} ORDER BY {order_by} LIMIT ? OFFSET ?"), params
            )
            items = [dict(row) for row in cursor.fetchall()]
        return Page(items=items, total=total, limit=limit, offset=offset, total_exact=exact)

    # -- work queues -----------------------------------------------------------------

    def queue(
        self, name: str, scope: Scope, *, today: date, limit: int = 50, offset: int = 0
    ) -> Page:
        """One of the :data:`QUEUES`, as ``scope`` may see it."""
        where = _Where()
        if name == "open-inspections":
            where.add("i.status = 'open'")
            if scope.is_party:
                where.add("1 = 0")  # a party is on no inspection team
            elif scope.involved_user_id is not None:
                where.add(_ON_TEAM.format(inspection="i.inspection_id"), scope.involved_user_id)
            return self._page(
                _INSPECTION_SELECT,
                _INSPECTION_FROM,
                where,
                "i.opened_at, i.inspection_id",
                limit,
                offset,
            )
        if name in ("orders-due-soon", "orders-overdue", "pending-extensions"):
            if name == "orders-due-soon":
                where.add("o.status IN ('issued', 'acknowledged')")
                where.add("o.overdue = 0")
                where.add(
                    "o.deadline >= ? AND o.deadline <= ?",
                    today.isoformat(),
                    (today + timedelta(days=DUE_SOON_DAYS)).isoformat(),
                )
                order_by = "o.deadline, o.number"
            elif name == "orders-overdue":
                where.add("o.status IN ('issued', 'acknowledged')")
                where.add("o.overdue = 1")
                order_by = "o.deadline, o.number"
            else:
                # Set and cleared together with the deadline asked for; the index on
                # the request's time finds these rows without reading the others.
                where.add("o.extension_requested_at IS NOT NULL")
                where.add("o.extension_deadline IS NOT NULL")
                order_by = "o.extension_requested_at, o.number"
            _order_scope(where, scope)
            return self._page(_ORDER_SELECT, _ORDER_FROM, where, order_by, limit, offset)
        if name == "awaiting-verification":
            where.add("c.status = 'awaiting_verification'")
            order_by = "c.awaiting_since, c.case_id"
        elif name == "awaiting-closure":
            where.add("c.status = 'verified'")
            order_by = "c.verified_at, c.case_id"
        else:
            raise KeyError(f"no queue named {name!r}; known: {', '.join(QUEUES)}")
        _case_scope(where, scope)
        return self._page(_CASE_SELECT, _CASE_FROM, where, order_by, limit, offset)

    # -- case search -----------------------------------------------------------------

    def search_cases(
        self,
        scope: Scope,
        filters: CaseFilter,
        *,
        sort: str = "reported_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
    ) -> Page:
        """Cases matching ``filters``, sorted by one of :data:`SORTS`, one page: from
        ``offset``, or after the row a ``cursor`` (the previous page's
        ``next_cursor``) names, which costs the same however deep the page is."""
        where, order_by = self._case_search(scope, filters, sort, descending)
        after = None if cursor is None else self._after(cursor, sort, descending)
        page = self._page(_CASE_SELECT, _CASE_FROM, where, order_by, limit, offset, after)
        if len(page.items) < page.limit:
            return page
        last = page.items[-1]
        token = encode_cursor(sort, descending, last[_SORT_FIELDS[sort]], last["case_id"])
        return dataclasses.replace(page, next_cursor=token)

    def _after(self, cursor: str, sort: str, descending: bool) -> _Where:
        """The rows that come after a cursor's, in the search's order (empty keys last)."""
        key, case_id = decode_cursor(cursor, sort, descending)
        collate = ' COLLATE "C"' if self.dialect == "postgres" else ""
        column, case = f"{SORTS[sort]}{collate}", f"c.case_id{collate}"
        beyond = "<" if descending else ">"
        after = _Where()
        if sort in _NEVER_EMPTY_SORTS:
            # A row value: both databases read it as a range of the sort's index.
            after.add(f"({column}, {case}) {beyond} (?, ?)", key, case_id)
        elif key is None:
            after.add(f"({SORTS[sort]} IS NULL AND {case} {beyond} ?)", case_id)
        else:
            after.add(
                f"({column} {beyond} ? OR ({column} = ? AND {case} {beyond} ?)"
                f" OR {SORTS[sort]} IS NULL)",
                key,
                key,
                case_id,
            )
        return after

    def _case_search(
        self, scope: Scope, filters: CaseFilter, sort: str, descending: bool
    ) -> tuple[_Where, str]:
        if sort not in SORTS:
            raise KeyError(f"cannot sort by {sort!r}; choose one of {', '.join(SORTS)}")
        where = _Where()
        if filters.site_id is not None:
            where.add("c.site_id = ?", str(filters.site_id))
        if filters.region:
            where.add("s.region = ?", filters.region)
        if filters.severity:
            where.add("c.severity = ?", filters.severity)
        if filters.statuses:
            marks = ", ".join("?" for _ in filters.statuses)
            where.add(f"c.status IN ({marks})", *filters.statuses)
        if filters.party:
            where.add(
                "EXISTS (SELECT 1 FROM rm_orders fo WHERE fo.case_id = c.case_id AND "
                "(fo.party_name LIKE ? ESCAPE '\\' OR fo.party_user_id = ?))",
                _like(filters.party),
                filters.party,
            )
        for column, low, high in (
            ("c.reported_on", filters.reported_from, filters.reported_to),
            ("c.closed_on", filters.closed_from, filters.closed_to),
        ):
            if low is not None:
                where.add(f"{column} >= ?", low.isoformat())
            if high is not None:
                where.add(f"{column} <= ?", high.isoformat())
        _case_scope(where, scope)
        direction = "DESC" if descending else "ASC"
        # Every sort key is text; PostgreSQL is told to compare it by code point,
        # as SQLite does, so both databases give one order.
        collate = ' COLLATE "C"' if self.dialect == "postgres" else ""
        nulls = "" if sort in _NEVER_EMPTY_SORTS else " NULLS LAST"
        order_by = f"{SORTS[sort]}{collate} {direction}{nulls}, c.case_id{collate} {direction}"
        return where, order_by

    def iter_ledger(
        self,
        scope: Scope,
        filters: CaseFilter,
        *,
        sort: str = "reported_at",
        descending: bool = True,
        batch_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every case the search finds (no page limit), with its latest order and
        latest verification, in the search's order: the hazard ledger's rows.

        Rows are fetched ``batch_size`` at a time from one cursor — a server-side
        cursor on PostgreSQL, whose ordinary cursor would hold the whole result in
        memory — so memory does not grow with the number of cases. Consume the
        iterator in one thread: it holds a connection until it is exhausted or closed.
        """
        where, order_by = self._case_search(scope, filters, sort, descending)
        sql = self._q(f"{_LEDGER_SELECT}{where.sql()} ORDER BY {order_by}")
        datastore = self.store.datastore
        if self.store.is_postgres:
            postgres = cast(PostgresDatastore, datastore)
            with (
                postgres.get_connection() as connection,
                connection.transaction(force_rollback=True),
                connection.cursor(name="rectify_ledger") as cursor,
            ):
                cursor.itersize = batch_size
                cursor.execute(sql, list(where.params))
                for row in cursor:
                    yield dict(row)
            return
        with cast(SQLiteDatastore, datastore).transaction(commit=False) as sqlite_cursor:
            sqlite_cursor.execute(sql, list(where.params))
            # The library's cursor wraps sqlite3's, which steps through the result lazily.
            raw = sqlite_cursor.sqlite_cursor
            while rows := raw.fetchmany(batch_size):
                for row in rows:
                    yield dict(row)

    # -- sites -----------------------------------------------------------------------

    def site(self, site_id: UUID) -> dict[str, Any] | None:
        rows = self._all(f"{_SITE_SELECT} WHERE s.site_id = ?", [str(site_id)])
        return rows[0] if rows else None

    def sites(
        self,
        *,
        region: str | None = None,
        name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """Registered sites with their counts, by region then name; ``name`` matches
        part of a site's name or region."""
        where = _Where()
        if region:
            where.add("s.region = ?", region)
        if name:
            where.add(
                "(s.name LIKE ? ESCAPE '\\' OR s.region LIKE ? ESCAPE '\\')",
                _like(name),
                _like(name),
            )
        return self._page(
            _SITE_SELECT, _SITE_FROM, where, "s.region, s.name, s.site_id", limit, offset
        )

    def site_inspections(
        self, site_id: UUID, *, status: str | None = None, limit: int = 50
    ) -> Page:
        """A site's inspections (only those in ``status`` if given), newest first."""
        where = _Where()
        where.add("i.site_id = ?", str(site_id))
        if status:
            where.add("i.status = ?", status)
        return self._page(
            _INSPECTION_SELECT,
            _INSPECTION_FROM,
            where,
            "i.opened_at DESC, i.inspection_id",
            limit,
            0,
        )

    def site_history(
        self, site_id: UUID, *, newest_first: bool = False, limit: int = 100, offset: int = 0
    ) -> Page:
        """What happened at the site, in log order (or newest first)."""
        where = _Where()
        where.add("h.site_id = ?", str(site_id))
        direction = "DESC" if newest_first else "ASC"
        source = " FROM rm_history h"
        select = (
            "SELECT h.position, h.occurred_at, h.kind, h.subject_kind, h.subject_id, "
            "h.subject_version, h.case_id, h.summary, h.reason, h.actor_id, h.actor_name, "
            f"h.actor_role{source}"
        )
        return self._page(select, source, where, f"h.position {direction}", limit, offset)

    # -- dashboards ------------------------------------------------------------------

    def dashboard(self, *, today: date, region: str | None = None) -> dict[str, Any]:
        """The figures of the supervisors' dashboard.

        - ``by_month``: per month and severity, cases reported and cases closed
          in that month (months of the local calendar);
        - ``open_by_severity`` / ``closed_by_severity``: cases now open / closed;
        - ``overdue_rate``: of the orders that have come due (fulfilled, past
          their deadline, or marked overdue; cancelled ones left out), the share
          that became overdue;
        - ``first_pass_verification_rate``: of first verifications (attempt 1),
          the share that passed;
        - ``median_days_to_close``: median days from report to close of closed cases.
        Rates and the median are None when there is nothing to count.
        """
        region_join = "JOIN rm_sites s ON s.site_id = c.site_id"
        region_sql, params = ("AND s.region = ?", [region]) if region else ("", [])
        opened = self._all(
            f"""SELECT substr(c.reported_on, 1, 7) AS month, c.severity, COUNT(*) AS n
                  FROM rm_cases c {region_join} WHERE 1 = 1 {region_sql}
                 GROUP BY substr(c.reported_on, 1, 7), c.severity""",
            params,
        )
        closed = self._all(
            f"""SELECT substr(c.closed_on, 1, 7) AS month, c.severity, COUNT(*) AS n
                  FROM rm_cases c {region_join} WHERE c.status = 'closed' {region_sql}
                 GROUP BY substr(c.closed_on, 1, 7), c.severity""",
            params,
        )
        months: dict[tuple[str, str], dict[str, Any]] = {}
        for rows, key in ((opened, "reported"), (closed, "closed")):
            for row in rows:
                entry = months.setdefault(
                    (row["month"], row["severity"]),
                    {
                        "month": row["month"],
                        "severity": row["severity"],
                        "reported": 0,
                        "closed": 0,
                    },
                )
                entry[key] = int(row["n"])
        by_status = self._all(
            f"""SELECT c.severity, c.status, COUNT(*) AS n FROM rm_cases c {region_join}
                 WHERE 1 = 1 {region_sql} GROUP BY c.severity, c.status""",
            params,
        )
        open_statuses = {"reported", "rectifying", "awaiting_verification", "verified"}
        open_by: dict[str, int] = {"general": 0, "major": 0}
        closed_by: dict[str, int] = {"general": 0, "major": 0}
        for row in by_status:
            if row["status"] in open_statuses:
                open_by[row["severity"]] = open_by.get(row["severity"], 0) + int(row["n"])
            elif row["status"] == "closed":
                closed_by[row["severity"]] = closed_by.get(row["severity"], 0) + int(row["n"])
        (due,) = self._all(
            f"""SELECT COUNT(*) AS due, COALESCE(SUM(o.overdue_ever), 0) AS overdue
                  FROM rm_orders o JOIN rm_cases c ON c.case_id = o.case_id {region_join}
                 WHERE o.status <> 'cancelled'
                   AND (o.status = 'fulfilled' OR o.overdue_ever = 1 OR o.deadline < ?)
                   {region_sql}""",
            [today.isoformat(), *params],
        )
        (first,) = self._all(
            f"""SELECT COUNT(*) AS n, COALESCE(SUM(v.passed), 0) AS passed
                  FROM rm_verifications v JOIN rm_cases c ON c.case_id = v.case_id {region_join}
                 WHERE v.attempt = 1 {region_sql}""",
            params,
        )
        durations = [
            (parse_ts(row["closed_at"]) - parse_ts(row["reported_at"])).total_seconds() / 86400
            for row in self._all(
                f"""SELECT c.reported_at, c.closed_at FROM rm_cases c {region_join}
                     WHERE c.status = 'closed' {region_sql}""",
                params,
            )
        ]
        return {
            "by_month": [months[key] for key in sorted(months)],
            "open_by_severity": open_by,
            "closed_by_severity": closed_by,
            "orders_due": int(due["due"]),
            "orders_overdue": int(due["overdue"]),
            "overdue_rate": _rate(int(due["overdue"]), int(due["due"])),
            "first_verifications": int(first["n"]),
            "first_verifications_passed": int(first["passed"]),
            "first_pass_verification_rate": _rate(int(first["passed"]), int(first["n"])),
            "closed_cases": len(durations),
            "median_days_to_close": round(statistics.median(durations), 2) if durations else None,
        }

    # -- for the overdue check -------------------------------------------------------

    def orders_past_deadline(self, today: date) -> list[UUID]:
        """Open orders whose deadline is before ``today`` and that are not yet
        marked overdue for it: the candidates of the overdue check."""
        rows = self._all(
            """SELECT order_id FROM rm_orders
                WHERE status IN ('issued', 'acknowledged') AND overdue = 0 AND deadline < ?
                ORDER BY deadline, order_id""",
            [today.isoformat()],
        )
        return [UUID(row["order_id"]) for row in rows]

    # -- for the reminders -----------------------------------------------------------

    def orders_to_remind(self, today: date, within_days: int) -> list[dict[str, Any]]:
        """Open orders overdue, or due on or before ``today + within_days``: the
        candidates of the reminder check (it decides which to remind about)."""
        return self._all(
            """SELECT o.order_id, o.case_id, o.number, o.deadline, c.severity, o.overdue,
                       o.issued_by, o.party_user_id, o.party_name, s.name AS site_name
                  FROM rm_orders o
                  JOIN rm_cases c ON c.case_id = o.case_id
                  JOIN rm_sites s ON s.site_id = c.site_id
                 WHERE o.status IN ('issued', 'acknowledged')
                   AND (o.overdue = 1 OR o.deadline <= ?)
                 ORDER BY o.deadline, o.number""",
            [(today + timedelta(days=within_days)).isoformat()],
        )


def _bounded_count(
    cursor: Any, q: Callable[[str], str], source: str, where: _Where, cap: int
) -> tuple[int, bool]:
    """How many rows ``source`` + ``where`` holds, counting no further than ``cap``:
    ``(n, True)`` when n <= cap, else ``(cap, False)``. The rows are only counted,
    none of their columns computed, and the count stops once past the cap."""
    cursor.execute(
        q(f"SELECT COUNT(*) AS n FROM (SELECT 1 AS one{source}{where.sql()} LIMIT ?) counted"),
        [*where.params, cap + 1],
    )
    counted = cursor.fetchone()
    assert counted is not None  # COUNT(*) always answers one row
    n = int(dict(counted)["n"])
    return (cap, False) if n > cap else (n, True)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
