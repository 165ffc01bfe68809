"""The read-model tables, declared once and rendered for SQLite or PostgreSQL.

Names here lack the prefix: live tables are ``rm_<name>``, the scratch copies
a check builds are ``rm_scratch_<name>``. Column types are kept to text,
integer and real so that a row reads back the same on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVE_PREFIX = "rm_"
SCRATCH_PREFIX = "rm_scratch_"


@dataclass(frozen=True)
class Table:
    """A read-model table: ``columns`` as (name, type) with type text/int/real;
    ``key`` the primary key; ``indexes`` the column lists to index.

    ``sort_indexes``: column lists a search sorts by, with the ``COLLATE "C"``
    the search's ORDER BY uses on PostgreSQL (so both databases sort text by code
    point); an index on the same columns without it cannot give that order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    sort_indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    """``"a text, b int"`` → ``(("a", "text"), ("b", "int"))``."""
    pairs = []
    for part in spec.split(","):
        name, kind = part.split()
        pairs.append((name, kind))
    return tuple(pairs)


SITES = Table(
    "sites",
    _cols(
        "site_id text, name text, region text, address text, operator text, contact text, "
        "kind text, registered_at text"
    ),
    key=("site_id",),
    # (region, name, site_id): the list of sites' order, read a page at a time.
    indexes=(("region",), ("region", "name", "site_id")),
)

INSPECTIONS = Table(
    "inspections",
    _cols(
        "inspection_id text, site_id text, template_code text, template_version int, "
        "items_total int, status text, opened_at text, opened_by text, opened_by_name text, "
        "ended_at text, cancel_reason text"
    ),
    key=("inspection_id",),
    # (status, opened_at): the console's work list walks the open ones newest first.
    indexes=(("status",), ("site_id",), ("status", "opened_at")),
)

INSPECTION_INSPECTORS = Table(
    "inspection_inspectors",
    _cols("inspection_id text, user_id text, name text, role text"),
    key=("inspection_id", "user_id"),
    indexes=(("user_id",),),
)

INSPECTION_ITEMS = Table(
    "inspection_items",
    _cols(
        "inspection_id text, item_code text, result text, note text, recorded_by text, "
        "recorded_at text"
    ),
    key=("inspection_id", "item_code"),
)

CASES = Table(
    "cases",
    _cols(
        "case_id text, site_id text, inspection_id text, item_code text, category text, "
        "description text, location text, severity text, status text, fixed_on_spot int, "
        "reported_at text, reported_on text, reported_by text, reported_by_name text, "
        "open_order_id text, latest_order_id text, awaiting_since text, verified_at text, "
        "verified_by text, verified_by_name text, closed_at text, closed_on text, "
        "closed_by text, closed_by_name text, dismissed_at text, last_activity_at text"
    ),
    key=("case_id",),
    # (status, since, case_id): the two case queues walk their status oldest first.
    indexes=(
        ("status",),
        ("site_id",),
        ("inspection_id",),
        ("reported_at",),
        ("status", "awaiting_since", "case_id"),
        ("status", "verified_at", "case_id"),
    ),
    # The case search's sorts on never-empty columns, read in either direction.
    sort_indexes=(
        ("reported_at", "case_id"),
        ("last_activity_at", "case_id"),
        ("severity", "case_id"),
        ("status", "case_id"),
    ),
)

ORDERS = Table(
    "orders",
    _cols(
        "order_id text, case_id text, number text, party_name text, party_contact text, "
        "party_user_id text, measures text, deadline text, severity_at_issue text, "
        "has_five_point_plan int, status text, attempt int, issued_at text, issued_by text, "
        "issued_by_name text, acknowledged_at text, last_progress_at text, overdue int, "
        "overdue_ever int, overdue_since text, escalated int, extension_deadline text, "
        "extension_reason text, extension_requested_at text, extension_requested_by text, "
        "completion_reported_at text, fulfilled_at text, cancelled_at text"
    ),
    key=("order_id",),
    # (overdue, deadline, number): the overdue and due-soon queues, most pressing first;
    # (overdue, overdue_since, number): the console's overdue list, newest first;
    # (extension_requested_at, number): the pending extensions, in either direction.
    indexes=(
        ("case_id",),
        ("status", "deadline"),
        ("party_user_id",),
        ("issued_by",),
        ("overdue", "deadline", "number"),
        ("overdue", "overdue_since", "number"),
        ("extension_requested_at", "number"),
    ),
)

VERIFICATIONS = Table(
    "verifications",
    _cols(
        "verification_id text, case_id text, order_id text, attempt int, passed int, "
        "findings text, performed_at text, verifier_id text, verifier_name text"
    ),
    key=("verification_id",),
    indexes=(("case_id",),),
)

HISTORY = Table(
    "history",
    _cols(
        "position int, site_id text, case_id text, subject_kind text, subject_id text, "
        "subject_version int, kind text, occurred_at text, summary text, reason text, "
        "actor_id text, actor_name text, actor_role text"
    ),
    key=("position",),
    indexes=(("site_id", "position"),),
)

HISTORY_SUBJECTS = Table(
    "history_subjects",
    _cols("subject_id text, site_id text, case_id text"),
    key=("subject_id",),
)

TABLES: dict[str, tuple[Table, ...]] = {
    "cases": (
        SITES,
        INSPECTIONS,
        INSPECTION_INSPECTORS,
        INSPECTION_ITEMS,
        CASES,
        ORDERS,
        VERIFICATIONS,
    ),
    "site_history": (HISTORY, HISTORY_SUBJECTS),
}
"""Each projection's tables, by projection name."""
