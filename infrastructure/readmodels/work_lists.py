"""The console's home page: each role's work queues, newest first, with counts.

The same rows as :meth:`ReadModelQueries.queue` (a test holds the two to it),
asked for the way a home page needs them, which stays quick on a city's years
of work:

- only the newest rows are read, sorted by an indexed column, and the per-row
  figures (items recorded, hazards found) are computed for those rows only;
- the count is a bare ``COUNT(*)`` over the filter, without the joins and
  per-row figures of the listing, and stops at :data:`COUNT_CAP` (the page
  then says "at least");
- a responsible party's cases are found from their orders (one index lookup),
  not by testing every case for an order of theirs.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from application.projections.access import Scope
from infrastructure.readmodels.queries import (
    COUNT_CAP,
    DUE_SOON_DAYS,
    INVOLVED_CASES,
    INVOLVED_ORDERS,
    CaseFilter,
    Page,
)
from infrastructure.readmodels.store import ReadModelStore

_TEAM = (
    "EXISTS (SELECT 1 FROM rm_inspection_inspectors ii "
    "WHERE ii.inspection_id = {inspection} AND ii.user_id = ?)"
)
_PARTY_CASES = "c.case_id IN (SELECT po.case_id FROM rm_orders po WHERE po.party_user_id = ?)"

_INSPECTIONS = """
SELECT x.*, s.name AS site_name, s.region AS region,
       (SELECT COUNT(*) FROM rm_inspection_items it
         WHERE it.inspection_id = x.inspection_id) AS items_recorded,
       (SELECT COUNT(*) FROM rm_cases hc WHERE hc.inspection_id = x.inspection_id) AS hazards
  FROM (SELECT i.inspection_id, i.site_id, i.template_code, i.template_version, i.status,
               i.opened_at, i.opened_by, i.opened_by_name, i.items_total
          FROM rm_inspections i {where} ORDER BY i.opened_at DESC LIMIT ?) x
  JOIN rm_sites s ON s.site_id = x.site_id
 ORDER BY x.opened_at DESC, x.inspection_id"""

_ORDERS = """
SELECT o.order_id, o.number, o.case_id, c.site_id, s.name AS site_name, s.region AS region,
       c.severity, c.status AS case_status, c.category, c.description, o.status, o.deadline,
       o.attempt, o.party_name, o.party_contact, o.party_user_id, o.measures, o.issued_at,
       o.issued_by, o.issued_by_name, o.acknowledged_at, o.overdue, o.overdue_since,
       o.escalated, o.extension_deadline, o.extension_reason, o.extension_requested_at,
       o.extension_requested_by, o.completion_reported_at
  FROM rm_orders o
  JOIN rm_cases c ON c.case_id = o.case_id
  JOIN rm_sites s ON s.site_id = c.site_id
  {where} ORDER BY {order} LIMIT ?"""

_CASES = """
SELECT c.case_id, c.site_id, s.name AS site_name, s.region AS region, c.inspection_id,
       c.item_code, c.category, c.description, c.location, c.severity, c.status,
       c.fixed_on_spot, c.reported_at, c.reported_by_name, c.awaiting_since, c.verified_at,
       c.verified_by, c.verified_by_name, c.closed_at, c.closed_by_name, c.dismissed_at,
       c.last_activity_at, o.order_id, o.number AS order_number, o.status AS order_status,
       o.deadline, o.party_name, o.party_user_id
  FROM (SELECT c.* FROM rm_cases c{join}{where} ORDER BY {order} LIMIT ? OFFSET ?) c
  JOIN rm_sites s ON s.site_id = c.site_id
  LEFT JOIN rm_orders o ON o.order_id = c.latest_order_id
 ORDER BY {order}"""


_SITES = """
SELECT x.*,
       (SELECT COUNT(*) FROM rm_inspections i WHERE i.site_id = x.site_id) AS inspections,
       (SELECT COUNT(*) FROM rm_cases c WHERE c.site_id = x.site_id
         AND c.status IN ('reported', 'rectifying', 'awaiting_verification', 'verified'))
         AS open_cases,
       (SELECT COUNT(*) FROM rm_cases c WHERE c.site_id = x.site_id
         AND c.status = 'closed') AS closed_cases
  FROM (SELECT s.* FROM rm_sites s {where}
         ORDER BY s.region, s.name, s.site_id LIMIT ? OFFSET ?) x
 ORDER BY x.region, x.name, x.site_id"""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class WorkLists:
    """Newest-first work queues and case lists for the console's pages."""

    def __init__(self, store: ReadModelStore) -> None:
        self.store = store
        self.postgres = store.is_postgres
        self.count_cap = COUNT_CAP

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        if self.postgres:
            sql = sql.replace("?", "%s")
        with self.store.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]

    def _count(self, source: str, params: list[Any], past: int = 0) -> tuple[int, bool]:
        """How many rows ``source`` (FROM, joins, WHERE) holds, counted no further than
        ``count_cap`` rows past ``past``: ``(n, True)``, or ``(cap, False)`` when
        there are more."""
        cap = past + self.count_cap
        sql = f"SELECT COUNT(*) AS n FROM (SELECT 1 AS one {source} LIMIT ?) counted"
        n = int(self._rows(sql, [*params, cap + 1])[0]["n"])
        return (cap, False) if n > cap else (n, True)

    def queue(self, name: str, scope: Scope, *, today: date, limit: int = 20) -> Page:
        """The newest ``limit`` rows of work queue ``name`` that ``scope`` may see, and
        how many there are in all."""
        if name == "open-inspections":
            return self._inspections(scope, limit)
        if name in ("orders-due-soon", "orders-overdue", "pending-extensions"):
            return self._orders(name, scope, today, limit)
        if name in ("awaiting-verification", "awaiting-closure"):
            status, since = (
                ("awaiting_verification", "c.awaiting_since")
                if name == "awaiting-verification"
                else ("verified", "c.verified_at")
            )
            return self._cases(["c.status = ?"], [status], scope, f"{since} DESC", limit)
        raise KeyError(f"no queue named {name!r}")

    def cases(self, scope: Scope, *, limit: int = 20) -> Page:
        """The cases ``scope`` may see, the most recently reported first."""
        return self._cases([], [], scope, "c.reported_at DESC", limit)

    # -- the three shapes of queue --------------------------------------------------------

    def _inspections(self, scope: Scope, limit: int) -> Page:
        clauses, params = ["i.status = 'open'"], []
        if scope.is_party:
            clauses.append("1 = 0")  # a party is on no inspection team
        elif scope.involved_user_id is not None:
            clauses.append(_TEAM.format(inspection="i.inspection_id"))
            params.append(scope.involved_user_id)
        where = " WHERE " + " AND ".join(clauses)
        if scope.involved_user_id is not None:
            # Counted from the person's team memberships (an index), not by
            # testing every open inspection for them.
            total, exact = self._count(
                "FROM rm_inspection_inspectors ii JOIN rm_inspections i"
                " ON i.inspection_id = ii.inspection_id WHERE ii.user_id = ? AND i.status = 'open'",
                [scope.involved_user_id],
            )
        else:
            total, exact = self._count(f"FROM rm_inspections i{where}", params)
        items = self._rows(_INSPECTIONS.format(where=where), [*params, limit])
        return Page(items=items, total=total, limit=limit, offset=0, total_exact=exact)

    def _orders(self, name: str, scope: Scope, today: date, limit: int) -> Page:
        clauses: list[str] = []
        params: list[Any] = []
        if name == "orders-due-soon":
            clauses += ["o.status IN ('issued', 'acknowledged')", "o.overdue = 0"]
            clauses.append("o.deadline >= ? AND o.deadline <= ?")
            params += [today.isoformat(), (today + timedelta(days=DUE_SOON_DAYS)).isoformat()]
            order = "o.deadline, o.number"  # the most pressing first
        elif name == "orders-overdue":
            clauses += ["o.status IN ('issued', 'acknowledged')", "o.overdue = 1"]
            order = "o.overdue_since DESC, o.number DESC"
        else:
            # As ReadModelQueries.queue: the request's time is indexed, the deadline not.
            clauses += ["o.extension_requested_at IS NOT NULL", "o.extension_deadline IS NOT NULL"]
            order = "o.extension_requested_at DESC, o.number DESC"
        if scope.is_party:
            clauses.append("o.party_user_id = ?")
            params.append(scope.party_user_id)
        elif scope.involved_user_id is not None:
            clauses.append(INVOLVED_ORDERS)
            params += [scope.involved_user_id, scope.involved_user_id]
        where = " WHERE " + " AND ".join(clauses)
        total, exact = self._count(f"FROM rm_orders o{where}", params)
        items = self._rows(_ORDERS.format(where=where, order=order), [*params, limit])
        return Page(items=items, total=total, limit=limit, offset=0, total_exact=exact)

    def _cases(
        self, clauses: list[str], params: list[Any], scope: Scope, order: str, limit: int
    ) -> Page:
        clauses, params = list(clauses), list(params)
        if scope.is_party:
            clauses.append(_PARTY_CASES)
            params.append(scope.party_user_id)
        elif scope.involved_user_id is not None:
            clauses.append(INVOLVED_CASES)
            params += [scope.involved_user_id, scope.involved_user_id]
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        total, exact = self._count(f"FROM rm_cases c{where}", params)
        # One sort key only, so the database can walk that column's index newest first.
        items = self._rows(_CASES.format(join="", where=where, order=order), [*params, limit, 0])
        return Page(items=items, total=total, limit=limit, offset=0, total_exact=exact)

    def search(
        self, scope: Scope, filters: CaseFilter, *, limit: int = 50, offset: int = 0
    ) -> Page:
        """The case search's rows (as :meth:`ReadModelQueries.search_cases`), the most
        recently reported first, one page."""
        clauses: list[str] = []
        params: list[Any] = []
        join = ""
        if filters.site_id is not None:
            clauses.append("c.site_id = ?")
            params.append(str(filters.site_id))
        if filters.region:
            join = " JOIN rm_sites rs ON rs.site_id = c.site_id"
            clauses.append("rs.region = ?")
            params.append(filters.region)
        if filters.severity:
            clauses.append("c.severity = ?")
            params.append(filters.severity)
        if filters.statuses:
            clauses.append(f"c.status IN ({', '.join('?' for _ in filters.statuses)})")
            params += list(filters.statuses)
        if filters.party:
            clauses.append(
                "c.case_id IN (SELECT fo.case_id FROM rm_orders fo WHERE "
                "fo.party_name LIKE ? ESCAPE '\\' OR fo.party_user_id = ?)"
            )
            params += [_like(filters.party), filters.party]
        for column, low, high in (
            ("c.reported_on", filters.reported_from, filters.reported_to),
            ("c.closed_on", filters.closed_from, filters.closed_to),
        ):
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(low.isoformat())
            if high is not None:
                clauses.append(f"{column} <= ?")
                params.append(high.isoformat())
        if scope.is_party:
            clauses.append(_PARTY_CASES)
            params.append(scope.party_user_id)
        elif scope.involved_user_id is not None:
            clauses.append(INVOLVED_CASES)
            params += [scope.involved_user_id, scope.involved_user_id]
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        total, exact = self._count(f"FROM rm_cases c{join}{where}", params, past=offset)
        sql = _CASES.format(join=join, where=where, order="c.reported_at DESC")
        items = self._rows(sql, [*params, limit, offset])
        return Page(items=items, total=total, limit=limit, offset=offset, total_exact=exact)

    def sites(self, *, name: str | None = None, limit: int = 50, offset: int = 0) -> Page:
        """Registered sites by region and name (``name``: part of a name or region),
        with their counts, one page."""
        clauses: list[str] = []
        params: list[Any] = []
        if name:
            clauses.append("(s.name LIKE ? ESCAPE '\\' OR s.region LIKE ? ESCAPE '\\')")
            params += [_like(name), _like(name)]
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        total, exact = self._count(f"FROM rm_sites s{where}", params, past=offset)
        items = self._rows(_SITES.format(where=where), [*params, limit, offset])
        return Page(items=items, total=total, limit=limit, offset=offset, total_exact=exact)
