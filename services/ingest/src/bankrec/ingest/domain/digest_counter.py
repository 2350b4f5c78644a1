"""Compact memories of keys by digest: what line identity remembers of a whole file.

Line identity has to remember something about every line of a file: the bank references of
a statement (a reference on two lines is not trusted) and the fingerprints of lines without
one (identical payments are told apart by their ordinal). A ``Counter`` of the key strings
costs some 200 bytes a line; these tables keep digests in flat arrays (open addressing,
linear probing) instead:

- ``DigestCounter``: 16-byte digests, 16 bytes a slot (counts above one in a small dict),
  23-53 bytes a key as the table fills. Two different keys share a digest with odds of about
  n²/2¹²⁸ (n keys), below the odds of two line ids (uuid5, 122 bits) colliding: it counts
  fingerprint ordinals, which ids depend on.
- ``DigestSet``: 8-byte digests, 8 bytes a slot, 11-27 bytes a key: only says "seen before,
  perhaps". It watches a statement's references for a repeat; a false alarm (odds about
  n²/2⁶⁵) costs a second read of the file, which finds the repeats exactly.
"""

from __future__ import annotations

import hashlib
from array import array

_LOAD_MAX = 0.7  # linear probing stays short below this
_SIZE_MIN = 1024


class DigestCounter:
    """How many times each key was counted, kept as 16-byte digests rather than the keys."""

    __slots__ = ("_counts", "_high", "_low", "_mask", "_used")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}  # slot -> count, for the keys counted more than once
        self._allocate(_SIZE_MIN)

    def __len__(self) -> int:
        return self._used

    @property
    def size_bytes(self) -> int:
        """Memory held by the table's arrays (for the benchmark and its reasoning)."""
        return sum(part.buffer_info()[1] * part.itemsize for part in (self._high, self._low))

    def add(self, key: str) -> int:
        """Count ``key`` once more; returns how many times it was counted before."""
        return self.add_digest(hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest())

    def add_digest(self, digest: bytes) -> int:
        """Count a key by a 16-byte digest of it the caller already has."""
        high = int.from_bytes(digest[:8], "little") | 1  # 0 marks an empty slot
        low = int.from_bytes(digest[8:16], "little")
        slot = self._slot(high, low)
        if self._high[slot] == 0:
            self._high[slot] = high
            self._low[slot] = low
            self._used += 1
            if self._used > _LOAD_MAX * (self._mask + 1):
                self._grow()
            return 0
        before = self._counts.get(slot, 1)
        self._counts[slot] = before + 1
        return before

    def _slot(self, high: int, low: int) -> int:
        """The slot holding (high, low), or the empty slot where it belongs; from the
        digest's first six bytes, which are random in a uuid too (its version and variant
        bits are in bytes 6 and 8)."""
        mask = self._mask
        highs, lows = self._high, self._low
        slot = (high >> 1) & mask
        while True:
            found = highs[slot]
            if found == 0 or (found == high and lows[slot] == low):
                return slot
            slot = (slot + 1) & mask

    def _allocate(self, size: int) -> None:
        self._high = array("Q", bytes(8 * size))
        self._low = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._used = 0

    def _grow(self) -> None:
        highs, lows, counts = self._high, self._low, self._counts
        self._allocate(2 * (self._mask + 1))
        self._counts = {}
        for old, (high, low) in enumerate(zip(highs, lows, strict=True)):
            if high:
                slot = self._slot(high, low)
                self._high[slot] = high
                self._low[slot] = low
                self._used += 1
                if old in counts:
                    self._counts[slot] = counts[old]


class DigestSet:
    """Whether a key was seen, perhaps: 8-byte digests (see the module docstring)."""

    __slots__ = ("_mask", "_slots", "_used")

    def __init__(self) -> None:
        self._allocate(_SIZE_MIN)

    @property
    def size_bytes(self) -> int:
        return self._slots.buffer_info()[1] * self._slots.itemsize

    def add_digest(self, digest: bytes) -> bool:
        """Remember a key by a digest of at least 8 bytes; True when it was seen before
        (or another key with the same 8 bytes was)."""
        value = int.from_bytes(digest[:8], "little") | 1  # 0 marks an empty slot
        slots, mask = self._slots, self._mask
        slot = (value >> 1) & mask
        while True:
            found = slots[slot]
            if found == value:
                return True
            if found == 0:
                break
            slot = (slot + 1) & mask
        slots[slot] = value
        self._used += 1
        if self._used > _LOAD_MAX * (mask + 1):
            self._grow()
        return False

    def _allocate(self, size: int) -> None:
        self._slots = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._used = 0

    def _grow(self) -> None:
        old = self._slots
        self._allocate(2 * (self._mask + 1))
        slots, mask = self._slots, self._mask
        for value in old:
            if value:
                slot = (value >> 1) & mask
                while slots[slot]:
                    slot = (slot + 1) & mask
                slots[slot] = value
                self._used += 1
