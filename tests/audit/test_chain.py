"""The hash chain's arithmetic and its verification, on records held in memory.

The same functions run on every backend; the tamper suites check that the
databases hand them the bytes as stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from uuid import UUID, uuid4

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from application.audit.chain import (
    GENESIS,
    Anchor,
    ChainLink,
    ProblemKind,
    canonical_bytes,
    chain_records,
    link_hash,
    verify_chain,
)


@dataclass(frozen=True)
class Record:
    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def log_of(positions: list[int]) -> list[Record]:
    aggregate = UUID("6f1c1d7e-3c1b-4a55-9b43-2d5d0c6c1a01")
    return [
        Record(p, aggregate, v, "domain.hazard:Hazard.Reported", f'{{"n":{p}}}'.encode())
        for v, p in enumerate(positions, 1)
    ]


def test_canonical_bytes_are_length_prefixed_fields_in_a_fixed_order() -> None:
    aggregate = UUID("6f1c1d7e-3c1b-4a55-9b43-2d5d0c6c1a01")
    encoded = canonical_bytes(7, aggregate, 3, "t:T.E", b"{}")
    fields = [
        b"rectify-audit-chain/1",
        b"7",
        b"6f1c1d7e-3c1b-4a55-9b43-2d5d0c6c1a01",
        b"3",
        b"t:T.E",
        b"{}",
    ]
    assert encoded == b"".join(len(f).to_bytes(8, "big") + f for f in fields)
    # The id is the same whether a store hands it back as a UUID or as its hex text.
    assert canonical_bytes(7, aggregate.hex, 3, "t:T.E", b"{}") == encoded


def test_a_link_hashes_the_previous_hash_and_the_canonical_bytes() -> None:
    canonical = canonical_bytes(1, uuid4(), 1, "t", b"x")
    expected = hashlib.sha256(bytes(32) + canonical).hexdigest()
    assert GENESIS == "0" * 64
    assert link_hash(GENESIS, canonical) == expected


def test_fields_cannot_be_shifted_into_one_another() -> None:
    aggregate = uuid4()
    assert canonical_bytes(1, aggregate, 1, "ab", b"c") != canonical_bytes(
        1, aggregate, 1, "a", b"bc"
    )


def test_every_event_changes_every_later_link() -> None:
    log = log_of([1, 2, 3])
    links = chain_records(None, log)
    altered = chain_records(None, [replace(log[0], state=b'{"n":0}'), *log[1:]])
    assert all(a.hash != b.hash for a, b in zip(links, altered, strict=True))


def test_a_chain_continued_from_its_head_equals_one_written_at_once() -> None:
    log = log_of([1, 2, 4, 9])
    first = chain_records(None, log[:2])
    assert first + chain_records(first[-1], log[2:]) == chain_records(None, log)


def test_an_intact_log_verifies_with_its_count_and_head() -> None:
    log = log_of([1, 2, 3, 4])
    links = chain_records(None, log)
    report = verify_chain(log, links)
    assert report.ok
    assert report.checked == 4
    assert report.head == links[-1]


def test_a_gap_in_the_notification_ids_is_not_a_deletion() -> None:
    log = log_of([1, 2, 5, 6, 10])
    report = verify_chain(log, chain_records(None, log))
    assert report.ok
    assert report.checked == 5


def test_an_altered_event_is_named_by_its_position() -> None:
    log = log_of([1, 2, 3, 4])
    links = chain_records(None, log)
    log[2] = replace(log[2], state=b'{"n":33}')
    report = verify_chain(log, links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.ALTERED, 3)
    assert report.checked == 2
    assert report.head == links[1]


def test_a_deleted_event_is_named_by_its_position() -> None:
    log = log_of([1, 2, 3, 4])
    links = chain_records(None, log)
    del log[1]
    report = verify_chain(log, links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.DELETED, 2)


def test_deleting_the_last_event_is_caught_at_the_head() -> None:
    log = log_of([1, 2, 3])
    links = chain_records(None, log)
    report = verify_chain(log[:-1], links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.DELETED, 3)


def test_an_event_inserted_into_a_gap_is_named_by_its_position() -> None:
    log = log_of([1, 2, 5])
    links = chain_records(None, log)
    forged = Record(3, uuid4(), 1, "domain.hazard:Hazard.Closed", b"{}")
    report = verify_chain([log[0], log[1], forged, log[2]], links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.INSERTED, 3)


def test_two_swapped_events_are_caught_at_the_first_of_them() -> None:
    log = log_of([1, 2, 3, 4, 5])
    links = chain_records(None, log)
    swapped = list(log)
    swapped[1] = replace(log[3], id=2)
    swapped[3] = replace(log[1], id=4)
    report = verify_chain(swapped, links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.ALTERED, 2)


def test_a_link_rewritten_in_the_chain_table_is_caught_at_its_position() -> None:
    log = log_of([1, 2, 3])
    links = chain_records(None, log)
    links[1] = ChainLink(2, "f" * 64)
    report = verify_chain(log, links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.ALTERED, 2)


def test_an_anchor_catches_a_log_rewritten_with_its_whole_chain() -> None:
    log = log_of([1, 2, 3, 4])
    anchor = Anchor.parse(chain_records(None, log)[2].anchor)
    rewritten = [replace(log[0], state=b'{"n":"forged"}'), *log[1:]]
    report = verify_chain(rewritten, chain_records(None, rewritten), anchor=anchor)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.ANCHOR_MISMATCH, 3)
    assert verify_chain(log, chain_records(None, log), anchor=anchor).ok


def test_an_anchor_beyond_a_truncated_chain_is_reported() -> None:
    log = log_of([1, 2, 3, 4])
    anchor = Anchor.parse(chain_records(None, log)[3].anchor)
    report = verify_chain(log[:2], chain_records(None, log[:2]), anchor=anchor)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == (ProblemKind.ANCHOR_NOT_CHAINED, 4)


def test_an_anchor_whose_position_vanished_with_its_link_is_reported() -> None:
    log = log_of([1, 2, 3, 4])
    anchor = Anchor.parse(chain_records(None, log)[1].anchor)
    without = [log[0], *log[2:]]
    report = verify_chain(without, chain_records(None, without), anchor=anchor)
    assert report.problem is not None
    assert report.problem.kind == ProblemKind.ANCHOR_NOT_CHAINED


@pytest.mark.parametrize(
    "text",
    ["", "abc@1", f"{'0' * 64}", f"{'0' * 64}@x", f"{'0' * 64}@0", f"{'g' * 64}@1"],
)
def test_a_malformed_anchor_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match="anchor"):
        Anchor.parse(text)


def test_an_anchor_reads_back_as_printed() -> None:
    anchor = Anchor.parse(f"{'A' * 64}@12")
    assert str(anchor) == f"{'a' * 64}@12"


TAMPERS = st.sampled_from(["alter", "delete", "insert", "swap"])


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=3), min_size=3, max_size=30),
    tamper=TAMPERS,
    data=st.data(),
)
def test_any_single_tampering_is_caught_at_its_position(
    gaps: list[int], tamper: str, data: st.DataObject
) -> None:
    positions = []
    position = 0
    for gap in gaps:
        position += gap
        positions.append(position)
    log = log_of(positions)
    links = chain_records(None, log)
    assert verify_chain(log, links).ok
    i = data.draw(st.integers(min_value=0, max_value=len(log) - 2), label="index")
    tampered = list(log)
    if tamper == "alter":
        tampered[i] = replace(log[i], state=log[i].state + b" ")
        expected = (ProblemKind.ALTERED, log[i].id)
    elif tamper == "delete":
        del tampered[i]
        expected = (ProblemKind.DELETED, log[i].id)
    elif tamper == "swap":
        j = data.draw(st.integers(min_value=i + 1, max_value=len(log) - 1), label="other")
        tampered[i] = replace(log[j], id=log[i].id)
        tampered[j] = replace(log[i], id=log[j].id)
        expected = (ProblemKind.ALTERED, log[i].id)
    else:
        free = [p for p in range(1, positions[-1]) if p not in positions]
        assume(free)
        slot = data.draw(st.sampled_from(free), label="slot")
        tampered.append(Record(slot, uuid4(), 1, "domain.hazard:Hazard.Closed", b"{}"))
        tampered.sort(key=lambda r: r.id)
        expected = (ProblemKind.INSERTED, slot)
    report = verify_chain(tampered, links)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.position) == expected
