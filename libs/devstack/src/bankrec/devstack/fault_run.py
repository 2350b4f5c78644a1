"""A fault run: the four services as processes on a private broker and PostgreSQL cluster,
a generated statement uploaded day by day while services are killed with SIGKILL and the
broker and the database restart on a seeded schedule; then the audit (``fault_audit``).

Used by tests/fault (a short form in the normal suite, the long form by ``make fault``).
The schedule is fixed by the seed; how it interleaves with the services' progress depends
on the machine's speed, which is the point: any interleaving must keep the books right.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bankrec.contracts import ALL_TOPICS
from bankrec.devstack.client import BankrecClient, ServiceCallError
from bankrec.devstack.fault_audit import AuditFigures, audit_run
from bankrec.devstack.fault_schedule import Fault, FaultKind, fault_schedule
from bankrec.devstack.private_infra import PrivateKafka, PrivatePostgres
from bankrec.devstack.processes import (
    SERVICE_CONSUMER_GROUPS,
    SERVICE_NAMES,
    ServiceStack,
    StackConfig,
    free_port,
)

UPLOAD_ATTEMPTS_MAX = 90  # 2 s apart: longer than any restart of ingest, broker or database
IMPORT_ROWS_PER_REQUEST = 2_000  # well under the ledger's import size limit


class FaultRunError(RuntimeError):
    """The run could not be set up or driven (not a finding: findings are in the audit)."""


@dataclass(frozen=True)
class FaultRunOptions:
    seed: int = 1
    lines: int = 2_000
    kills_per_service: int = 2
    broker_restarts: int = 1
    database_restarts: int = 1
    load_seconds: float = 60.0  # the window the statement files are uploaded over
    settle_timeout_seconds: float = 300.0  # after the load: until the audit comes out clean


@dataclass
class FaultRunReport:
    options: FaultRunOptions
    tenant_id: str
    schedule: list[Fault]
    audit: AuditFigures = field(default_factory=AuditFigures)
    kills: Counter[str] = field(default_factory=Counter)
    unplanned_exits: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    database_restarts: int = 0
    upload_retries: int = 0
    wall_seconds: float = 0.0
    settle_seconds: float = 0.0

    def render(self) -> str:
        o, a = self.options, self.audit
        kills = ", ".join(f"{name} {self.kills[name]}" for name in SERVICE_NAMES)
        exits = ", ".join(f"{n} {c}" for n, c in sorted(self.unplanned_exits.items())) or "none"
        rows = [
            f"fault run: seed {o.seed}, {o.lines} lines requested, tenant {self.tenant_id}",
            f"  lines in            {a.lines_in} ({a.line_messages} messages)",
            f"  decisions out       {a.decisions_out} ({a.decision_messages} messages), "
            f"{a.final_decisions} final",
            f"  postings            {a.postings} journal entries ({a.posting_messages} messages)",
            f"  lines in suspense   {a.lines_in_suspense}",
            f"  duplicates          {a.duplicates}",
            f"  losses              {a.losses}",
            f"  other findings      {len(a.problems) - a.duplicates - a.losses}",
            f"  kills survived      {kills}",
            f"  unplanned exits     {exits}",
            f"  broker restarts     {self.broker_restarts}",
            f"  database restarts   {self.database_restarts}",
            f"  upload retries      {self.upload_retries}",
            f"  wall time           {self.wall_seconds:.0f} s "
            f"(load {o.load_seconds:.0f} s, settled in {self.settle_seconds:.0f} s)",
        ]
        rows += [f"  ! {problem}" for problem in a.problems[:40]]
        if len(a.problems) > 40:
            rows.append(f"  ! ... and {len(a.problems) - 40} more")
        return "\n".join(rows)


def split_statement(document: bytes) -> list[bytes]:
    """A camt.053 document with several ``Stmt`` as one document per ``Stmt`` (a bank's
    daily files), each with the original group header."""
    text = document.decode("utf-8")
    first = text.index("<Stmt>")
    last = text.rindex("</Stmt>") + len("</Stmt>")
    head, tail = text[:first], text[last:]
    statements = re.findall(r"<Stmt>.*?</Stmt>\n?", text[first:last], flags=re.DOTALL)
    return [(head + s + tail).encode("utf-8") for s in statements]


def _generate_case(lines: int, seed: int, directory: Path) -> None:
    script = Path(sys.executable).parent / "bankrec-matcher"
    done = subprocess.run(
        [
            str(script),
            "quality",
            "--lines",
            str(lines),
            "--seed",
            str(seed),
            "--write-dir",
            str(directory),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise FaultRunError(f"bankrec-matcher quality failed: {done.stderr[-2000:]}")


def _csv_pieces(text: str, rows: int) -> list[str]:
    header, *body = text.splitlines(keepends=True)
    return ["".join([header, *body[i : i + rows]]) for i in range(0, len(body), rows)]


class FaultRun:
    """Owns the private broker, the private cluster, the databases and the service processes;
    ``close`` stops every one of them (process groups, the broker, the cluster)."""

    def __init__(self, options: FaultRunOptions, *, log: Callable[[str], None] = print) -> None:
        self.options = options
        self.log = log
        self.root = Path(tempfile.mkdtemp(prefix="bankrec-fault-"))
        self.kafka = PrivateKafka(self.root)
        self.postgres = PrivatePostgres()
        self.tenant_id = f"fault-{options.seed}-{uuid.uuid4().hex[:6]}"
        self.config: StackConfig | None = None
        self.stack: ServiceStack | None = None
        self.client: BankrecClient | None = None
        self.report = FaultRunReport(
            options,
            self.tenant_id,
            fault_schedule(
                options.seed,
                duration_seconds=options.load_seconds,
                services=SERVICE_NAMES,
                kills_per_service=options.kills_per_service,
                broker_restarts=options.broker_restarts,
                database_restarts=options.database_restarts,
            ),
        )

    # ------------------------------------------------------------------ set-up, tear-down

    def start(self) -> None:
        from bankrec.runtime import ensure_topics

        self.kafka.start()
        self.postgres.start()
        self.config = StackConfig(
            kafka_bootstrap_servers=self.kafka.bootstrap_servers,
            state_dir=self.root / "stack",
            ports={name: free_port() for name in SERVICE_NAMES},
            database_urls={
                name: self.postgres.create_database(f"bankrec_{name}") for name in SERVICE_NAMES
            },
            log_level="WARNING",
        )
        asyncio.run(ensure_topics(self.kafka.bootstrap_servers, ALL_TOPICS))
        self.stack = ServiceStack(self.config)
        self.stack.start()
        self.client = BankrecClient(self.config, self.tenant_id, key_wait_seconds=90.0)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.stack is not None:
            self.stack.stop()
            for service in self.stack.services.values():
                _kill_group(service.process)
        try:
            self.kafka.stop()
        finally:
            self.postgres.remove()
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> FaultRun:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the run

    def run(self) -> FaultRunReport:
        assert self.client is not None
        started = time.monotonic()
        case_dir = self.root / "case"
        _generate_case(self.options.lines, self.options.seed, case_dir)
        files = split_statement((case_dir / "statement.xml").read_bytes())
        open_items = (case_dir / "open_items.csv").read_text(encoding="utf-8")
        imported = 0
        for piece in _csv_pieces(open_items, IMPORT_ROWS_PER_REQUEST):
            result = self._import(piece)
            if result["errors"]:
                raise FaultRunError(f"open items refused: {result['errors'][:3]}")
            imported += int(result["imported"]) + int(result["unchanged"])
        self.client.wait_for_matcher_index(imported, timeout_seconds=300)
        self.log(
            f"fault run: seed {self.options.seed}, {len(files)} statement files, "
            f"{imported} open items; schedule:\n"
            + "\n".join(f"  {fault.describe()}" for fault in self.report.schedule)
        )

        load_started = time.monotonic()
        spacing = self.options.load_seconds / max(1, len(files))
        events: list[tuple[float, int, Fault | bytes]] = [
            (i * spacing, 1, body) for i, body in enumerate(files)
        ]
        events += [(fault.at_seconds, 0, fault) for fault in self.report.schedule]
        for at, _order, what in sorted(events, key=lambda e: (e[0], e[1])):
            self._wait_until(load_started + at)
            if isinstance(what, Fault):
                self._inject(what)
            else:
                self._upload(what)

        settle_started = time.monotonic()
        deadline = settle_started + self.options.settle_timeout_seconds
        while True:
            self._supervise()
            self.report.audit = self.audit()
            if not self.report.audit.problems or time.monotonic() > deadline:
                break
            self._wait_until(time.monotonic() + 10)
        self.report.settle_seconds = time.monotonic() - settle_started
        self.report.wall_seconds = time.monotonic() - started
        return self.report

    def audit(self) -> AuditFigures:
        assert self.config is not None
        return audit_run(
            bootstrap_servers=self.kafka.bootstrap_servers,
            tenant_id=self.tenant_id,
            ledger_url=self.config.database_url("ledger"),
            reconciler_url=self.config.database_url("reconciler"),
            expected_lines=self.options.lines,
        )

    # ------------------------------------------------------------------ faults

    def _inject(self, fault: Fault) -> None:
        self.log(f"  fault {fault.describe()}")
        if fault.kind is FaultKind.KILL:
            assert fault.service is not None
            self.kill_and_restart(fault.service)
        elif fault.kind is FaultKind.BROKER_RESTART:
            self.kafka.restart()
            self.report.broker_restarts += 1
        else:
            self.postgres.restart()
            self.report.database_restarts += 1

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL to the service's process group, then the service again, until healthy."""
        assert self.stack is not None
        service = self.stack.services[name]
        _kill_group(service.process)
        service.stop()  # closes its log; the process is gone already
        service.start()
        service.wait_healthy(180)
        self.report.kills[name] += 1

    def _supervise(self) -> None:
        """Restart a service that exited by itself (as an orchestrator would); counted."""
        assert self.stack is not None
        for name, service in self.stack.services.items():
            if service.process is not None and service.process.poll() is not None:
                self.log(f"  {name} exited by itself ({service.process.returncode}); restarting")
                self.report.unplanned_exits[name] += 1
                service.stop()
                service.start()
                service.wait_healthy(180)

    def _wait_until(self, moment: float) -> None:
        while (left := moment - time.monotonic()) > 0:
            self._supervise()
            time.sleep(min(1.0, left))

    # ------------------------------------------------------------------ load

    def _upload(self, body: bytes) -> None:
        assert self.client is not None
        for _attempt in range(UPLOAD_ATTEMPTS_MAX):
            try:
                response = self.client.upload_statement_bytes(body, filename="day.camt053.xml")
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code < 300:
                return
            if response is not None and response.status_code < 500:
                raise ServiceCallError("ingest", response)
            self.report.upload_retries += 1
            self._wait_until(time.monotonic() + 2)
        raise FaultRunError(
            f"ingest did not accept a statement file in {UPLOAD_ATTEMPTS_MAX} tries"
        )

    def _import(self, csv_text: str) -> dict[str, Any]:
        assert self.client is not None
        assert self.config is not None
        response = httpx.post(
            f"{self.config.base_url('ledger')}/v1/tenants/{self.tenant_id}/open-items/import",
            content=csv_text.encode("utf-8"),
            headers={"content-type": "text/csv", **self.client.auth_headers("ledger")},
            timeout=120,
        )
        if response.status_code >= 400:
            raise ServiceCallError("ledger", response)
        result: dict[str, Any] = response.json()
        return result

    # ------------------------------------------------------------------ rebuilds

    def reset_groups_to_beginning(self, service: str) -> None:
        """Commit each of the service's consumer groups at the start of its topics (the
        service must be stopped), so it reads everything again."""
        groups = {
            group: topics
            for group, topics in SERVICE_CONSUMER_GROUPS.items()
            if group == f"bankrec-{service}" or group.startswith(f"bankrec-{service}.")
        }
        asyncio.run(_commit_at_beginning(self.kafka.bootstrap_servers, groups))


async def _commit_at_beginning(bootstrap_servers: str, groups: dict[str, tuple[str, ...]]) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from bankrec.devstack.topics import _partition_ids

    for group, topics in groups.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in await _partition_ids(bootstrap_servers, topic)
            ]
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            await consumer.commit(dict(starts))
        finally:
            await consumer.stop()


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the process group the service was started in (start_new_session)."""
    if process is None:
        return
    # the whole group, also after its leader exited: nothing of it may stay behind
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
