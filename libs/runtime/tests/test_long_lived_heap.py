"""What survives a full collection is frozen, so the next one walks only what came since; what
dies by reference counting is still freed, and cyclic garbage is still collected before the
freeze."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from bankrec.runtime.long_lived_heap import LongLivedHeap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def heap() -> Iterator[LongLivedHeap]:
    watched = LongLivedHeap()
    gc.unfreeze()
    watched.install()
    try:
        yield watched
    finally:
        watched.uninstall()
        gc.unfreeze()  # the rest of the test session collects as usual


def full_collection_seconds() -> float:
    began = time.perf_counter()
    gc.collect()
    return time.perf_counter() - began


def test_a_full_collection_freezes_what_survived_it(heap: LongLivedHeap) -> None:
    gc.disable()  # no automatic collection while the heap is made: the first one is ours
    try:
        survivors = [Node() for _ in range(200_000)]  # tracked by the collector
    finally:
        gc.enable()
    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle
    dead = weakref.ref(cycle)
    del cycle

    gc.collect()

    assert dead() is None, "the cycle that was garbage is collected before the freeze"
    assert heap.collections.count == 1
    assert heap.collections.frozen >= len(survivors)
    assert gc.get_freeze_count() == heap.collections.frozen
    # the next full collection walks none of them: far less than the first one
    assert heap.collections.seconds_max > 0
    assert full_collection_seconds() < heap.collections.seconds_max
    assert heap.collections.count == 2


def test_a_frozen_object_is_still_freed_by_reference_counting(heap: LongLivedHeap) -> None:
    kept = Node()
    gone = weakref.ref(kept)
    gc.collect()
    assert gc.get_freeze_count() > 0
    del kept
    assert gone() is None


def test_only_full_collections_freeze(heap: LongLivedHeap) -> None:
    gc.collect(0)
    gc.collect(1)
    assert heap.collections.count == 0
    assert gc.get_freeze_count() == 0
