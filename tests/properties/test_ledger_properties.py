"""Properties of the ledger's building blocks, over inputs Hypothesis generates.

- canonical JSON (RFC 8785) round-trips any JSON value and is the same whatever the
  key order;
- every RFC 9162 inclusion proof verifies, for every tree size and leaf index, and
  fails once any single bit of the leaf, the proof or the root is flipped;
- concurrent appends, in any interleaving Hypothesis picks, give each stream
  gap-free versions, and a reader following the ledger sees every event once, in
  commit order.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.canonical import canonical_json
from events.catalogue import Metadata
from events.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from events.store import ANY, Cursor, EventStore, RecordedEvent
from events.vocabulary import StepSkipped

META = Metadata(actor="prop", source="test")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)


@given(json_values)
def test_canonical_json_round_trips_and_is_stable(value: Any) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_canonical_json_does_not_depend_on_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(min_value=1, max_value=70))
    leaves = [leaf_hash(f"event {n}".encode()) for n in range(size)]
    return leaves, draw(st.integers(min_value=0, max_value=size - 1))


def flipped(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@given(trees(), st.data())
def test_inclusion_proofs_verify_for_every_size_and_index_and_fail_for_any_flipped_bit(
    tree: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = tree
    head = root(leaves)
    proof = inclusion_proof(index, leaves)
    assert verify_inclusion(index, len(leaves), leaves[index], proof, head)
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    assert not verify_inclusion(index, len(leaves), flipped(leaves[index], bit), proof, head)
    assert not verify_inclusion(index, len(leaves), leaves[index], proof, flipped(head, bit))
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="node")
        broken = [*proof[:at], flipped(proof[at], bit), *proof[at + 1 :]]
        assert not verify_inclusion(index, len(leaves), leaves[index], broken, head)


# Each writer gets a list of (stream number, batch size): its appends, in order.
plans = st.lists(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=3)),
        min_size=1,
        max_size=6,
    ),
    min_size=2,
    max_size=4,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plans)
def test_concurrent_appends_keep_versions_gap_free_and_a_reader_sees_each_event_once_in_order(
    store: EventStore, plan: list[list[tuple[int, int]]]
) -> None:
    start = store.head()
    streams = [f"run-{uuid.uuid4()}" for _ in range(3)]
    barrier = threading.Barrier(len(plan))
    written: list[list[uuid.UUID]] = []

    def write(appends: list[tuple[int, int]]) -> None:
        barrier.wait()
        for stream, size in appends:
            ids = [uuid.uuid4() for _ in range(size)]
            events = [StepSkipped(step=str(i), reason="prop") for i in ids]
            store.append(streams[stream], events, ANY, META, event_ids=ids)
            written.append(ids)

    threads = [threading.Thread(target=write, args=(appends,)) for appends in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for stream in streams:
        versions = [event.version for event in store.read_stream(stream)]
        assert versions == list(range(len(versions)))
    expected = sum(len(ids) for ids in written)
    seen = subscribed(store, start, expected)
    assert len(seen) == expected
    assert {e.event_id for e in seen} == {i for ids in written for i in ids}
    assert [e.cursor for e in seen] == sorted(e.cursor for e in seen)
    for ids in written:  # a batch is contiguous in its stream and in commit order
        found = [e for e in seen if e.event_id in set(ids)]
        assert [e.event_id for e in found] == ids


def subscribed(store: EventStore, start: Cursor, count: int) -> list[RecordedEvent]:
    """The first `count` events a subscription from `start` delivers (it waits for the
    horizon: a transaction still open elsewhere in the cluster holds readers back)."""
    stop = threading.Event()
    timer = threading.Timer(60, stop.set)
    timer.start()
    seen: list[RecordedEvent] = []
    try:
        for event in store.subscribe(after=start, poll_seconds=0.1, stop=stop):
            seen.append(event)
            if len(seen) == count:
                break
    finally:
        timer.cancel()
    rest = store.read_all(after=seen[-1].cursor) if seen else []
    return seen + rest
