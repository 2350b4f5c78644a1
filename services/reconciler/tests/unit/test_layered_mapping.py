"""``with_item`` (the period's lines and postings without a whole copy per message) behaves
exactly as ``{**items, key: value}``: seeded random adds and replacements, checked against a
dict after every step (length, lookups, membership, iteration order, equality), and the
version before each step stays as it was (immutability)."""

from __future__ import annotations

import os
import random

from bankrec.reconciler.domain.period import LayeredMapping, with_item


def test_with_item_is_a_dict_copy_with_one_item_set() -> None:
    seed = int(os.environ.get("RECONCILER_TEST_SEED", random.randrange(2**32)))
    print(f"RECONCILER_TEST_SEED={seed}")
    rng = random.Random(seed)
    items: dict[str, int] | LayeredMapping[str, int] = {}
    want: dict[str, int] = {}
    folded = 0
    for step in range(3_000):
        key = f"k{rng.randrange(2_000)}"  # about a third of the steps replace a key
        before, kept = items, dict(want)
        items = with_item(items, key, step)
        want = {**want, key: step}
        folded += not isinstance(items, LayeredMapping)
        assert len(items) == len(want)
        assert items[key] == step
        assert key in items
        assert items.get("absent") is None
        assert before == kept, "the earlier version did not change"
        if step % 97 == 0:
            assert list(items) == list(want)
            assert list(items.items()) == list(want.items())
            assert items == want
            assert want == items
    assert dict(items) == want
    assert folded < 200, "most steps copy the small layer only, not every item"
