"""The scheduler that runs due bank pulls in the service's lifespan.

Every ``tick_seconds`` it asks ``BankPulls.due()`` and starts each due pull it is not running
already, at most ``concurrency`` at a time. The lease in the database keeps one run per pull
across instances too. A failing look or run is logged and the loop carries on: one tenant's
broken bank must not stop another tenant's pulls.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from bankrec.ingest.bank_pull_use_cases import BankPulls
from bankrec.ingest.domain.bank_pulls import BankPull

log = logging.getLogger(__name__)


class BankPullScheduler:
    def __init__(self, pulls: BankPulls, *, tick_seconds: float, concurrency: int) -> None:
        self._pulls = pulls
        self._tick_seconds = tick_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start looking in the background (call from the running event loop)."""
        self._loop_task = asyncio.create_task(self.run(), name="ingest-bank-pull-scheduler")

    async def run(self) -> None:
        """Look for due pulls until ``stop``."""
        log.info("bank pull scheduler started: looking every %.0f s", self._tick_seconds)
        while not self._stopping.is_set():
            await self.start_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._tick_seconds)

    async def start_due(self) -> int:
        """Start every due pull not running here; returns how many were started."""
        try:
            due = await self._pulls.due()
        except Exception:  # the database may be away for a moment; look again next tick
            log.exception("bank pull scheduler could not read the due pulls")
            return 0
        started = 0
        for pull in due:
            key = (pull.tenant_id, pull.name)
            if key in self._running:
                continue
            task = asyncio.create_task(self._run(pull), name=f"bank-pull-{pull.name}")
            self._running[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
            started += 1
        return started

    def _forget(self, key: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)

    async def _run(self, pull: BankPull) -> None:
        async with self._slots:
            if self._stopping.is_set():
                return
            try:
                await self._pulls.run_due(pull)
            except Exception:
                log.exception(
                    "bank pull %r could not run", pull.name, extra={"tenant_id": pull.tenant_id}
                )

    async def stop(self, timeout_seconds: float) -> None:
        """Stop looking; give running pulls ``timeout_seconds`` to finish, then cancel them
        (a cancelled run keeps every file it recorded and gives its lease back)."""
        self._stopping.set()
        if self._loop_task is not None:
            # the loop may be starting pulls right now: let it finish that first
            await self._loop_task
        running = list(self._running.values())
        if not running:
            return
        _done, pending = await asyncio.wait(running, timeout=timeout_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
