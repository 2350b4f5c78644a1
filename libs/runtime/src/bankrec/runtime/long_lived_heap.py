"""Full garbage collections that do not walk the whole heap again each time.

The matcher's index and the reconciler's cached periods are millions of objects that live as
long as the process. CPython's cyclic collector walks every tracked object at each full
collection (one each time the long-lived objects have grown by a quarter): about 2 s for the
2.5 million objects of a matcher that has seen 100,000 lines, during which the process answers
nothing (``make bench`` showed 3-6 s stalls of every consumer at once, the latency's tail).

So after each full collection, what survived it is frozen (``gc.freeze``): moved to the
permanent generation, which later collections do not walk. Objects freed by reference
counting (nearly all: an index entry replaced, a period version dropped) are still freed; only
a reference cycle among frozen objects would never be collected. Such cycles would have to be
alive at a full collection and die after it; full collections come as rarely as before (the
quarter rule counts from the heap as it was), so that is a few objects each time, not a leak
that grows with the traffic.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

OLDEST = 2  # the generation a full collection collects


@dataclass
class FullCollections:
    """What the full collections since ``install`` cost and froze."""

    count: int = 0
    seconds_total: float = 0.0
    seconds_max: float = 0.0
    frozen: int = 0  # objects in the permanent generation after the last one


class LongLivedHeap:
    """Freezes what survives each full collection (see the module's docstring)."""

    def __init__(self) -> None:
        self.collections = FullCollections()
        self._began = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != OLDEST:
            return
        if phase == "start":
            self._began = time.perf_counter()
            return
        gc.freeze()
        seconds = time.perf_counter() - self._began
        collections = self.collections
        collections.count += 1
        collections.seconds_total += seconds
        collections.seconds_max = max(collections.seconds_max, seconds)
        collections.frozen = gc.get_freeze_count()
        log.info(
            "full garbage collection in %.3f s; %d long-lived objects frozen",
            seconds,
            collections.frozen,
        )


LONG_LIVED_HEAP = LongLivedHeap()
"""The process's one instance, installed by ``service.serve``."""


__all__ = ["LONG_LIVED_HEAP", "FullCollections", "LongLivedHeap"]
