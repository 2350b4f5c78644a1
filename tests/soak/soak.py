"""A bounded soak: the four services as processes, signed bank webhooks at a fixed rate on
loopback for a fixed time, each service's memory and every consumer group's lag sampled.

``make soak`` (``python tests/soak/soak.py``: 10 minutes at 2 webhooks/s, 2 tenants x 2
accounts). It runs on a Kafka broker
of its own (deploy/local/kafka.sh on free ports) unless ``--bootstrap-servers`` names one: the
services' consumer groups have fixed names, so on a broker other stacks use they would share
(and steal) each other's partitions. Databases are new PostgreSQL ones (dropped afterwards),
or SQLite files with ``--database sqlite``.

Each webhook is a new camt.053 statement (the demo's six entries) of one of ``--tenants``
tenants x ``--accounts`` accounts, each account's statements chained (sequence numbers,
opening = previous closing, new bank references, a day after the previous one), so every
line is new and nothing is a duplicate; the invoices and the bill its payments are for are
imported into the ledger just before it (so lines are matched, as in a live business, and
only the demo's unexplained line and its fee wait). Printed at the end, and written to ``--json``: webhooks sent and accepted, errors
(refused or failed webhooks, ERROR log lines, dead letters), lines published and decisions
made, RSS at start, end and maximum per service, and consumer lag (maximum, at the end of the
posting and after draining).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from stdnum import luhn

from bankrec.contracts import DEAD_LETTERS, DECISIONS, STATEMENT_LINES, Topic
from bankrec.devstack import ServiceStack, StackConfig, free_port
from bankrec.devstack.client import BankrecClient
from bankrec.devstack.processes import SERVICE_NAMES, start_groups_at_end

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "deploy" / "demo"
STATEMENT_NET_AMOUNT = 14225  # the demo statement's closing minus opening balance (NOK)
IN_FLIGHT_MAX = 64  # webhooks awaiting an answer at once; beyond it the rate is not kept


# -- the load


def norwegian_iban(rng: random.Random) -> str:
    """A made-up Norwegian IBAN with valid check digits (MOD11 account, MOD97 IBAN)."""
    while True:
        body = "".join(str(rng.randrange(10)) for _ in range(10))
        remainder = sum(
            int(d) * w for d, w in zip(body, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)
        )
        check = (11 - remainder % 11) % 11
        if check != 10:
            bban = f"{body}{check}"
            return f"NO{98 - int(f'{bban}232400') % 97:02d}{bban}"


@dataclass(frozen=True)
class Webhook:
    """One statement to post, and the open items its payments are for."""

    tenant: str
    body: bytes
    open_items_csv: bytes


OPEN_ITEMS_HEADER = (
    "item_id,kind,counterparty_id,counterparty_name,counterparty_accounts,document_no,"
    "external_document_no,reference,description,amount,currency,posting_date,due_date\n"
)
TEMPLATE_DATE = date(2026, 11, 20)


@dataclass
class StatementSource:
    """Chained daily statements per account: the demo statement with new numbers each time,
    one day later than the account's previous one, and new invoices (KIDs, invoice number) and
    a new bill for its payments, so lines are matched as in a live business, not parked."""

    tenants: list[str]
    accounts_per_tenant: int
    seed: int
    template: str = field(init=False)
    accounts: list[tuple[str, str]] = field(init=False)  # (tenant, IBAN)
    sent: dict[int, int] = field(default_factory=dict)  # account index -> statements so far

    def __post_init__(self) -> None:
        self.template = (DEMO / "statement-2026-11.camt053.xml").read_text(encoding="utf-8")
        rng = random.Random(self.seed)
        self.accounts = [
            (tenant, norwegian_iban(rng))
            for tenant in self.tenants
            for _ in range(self.accounts_per_tenant)
        ]

    def next(self, number: int) -> Webhook:
        """The ``number``-th webhook: accounts in turn."""
        index = number % len(self.accounts)
        tenant, iban = self.accounts[index]
        k = self.sent.get(index, 0)
        self.sent[index] = k + 1
        opening = 100_000 + STATEMENT_NET_AMOUNT * k
        serial = index * 1_000_000 + k  # unique within the tenant
        kids = [luhn.calc_check_digit(f"{n}{serial:09d}") for n in (1, 2, 3)]
        kids = [f"{n}{serial:09d}{check}" for n, check in zip((1, 2, 3), kids, strict=True)]
        invoice_no, bill_no = str(20_000_000 + serial), f"88-{serial}"
        day = TEMPLATE_DATE + timedelta(days=k)
        text = (
            self.template.replace("NO9386011117947", iban)
            .replace("NVAS-20261120-0001", f"SOAK-{index}-{k}")
            .replace("2026-11-20-00321", f"SOAK-{index:05d}-{k:07d}")
            .replace("<ElctrncSeqNb>321<", f"<ElctrncSeqNb>{k + 1}<")
            .replace("<LglSeqNb>321<", f"<LglSeqNb>{k + 1}<")
            .replace(">100000.00<", f">{opening}.00<")
            .replace(">114225.00<", f">{opening + STATEMENT_NET_AMOUNT}.00<")
            .replace("20261120000", f"9{index:05d}{k:07d}")  # the bank references: new lines
            .replace("1002345005", kids[0])
            .replace("1002351003", kids[1])
            .replace("1002367009", kids[2])
            .replace("Faktura 10234", f"Faktura {invoice_no}")
            .replace("Inv 88-4410", f"Inv {bill_no}")
            .replace("2026-11-20", day.isoformat())
        )
        posted, due = (day - timedelta(days=20)).isoformat(), day.isoformat()
        rows = [
            f"INV-{serial}-1,invoice,C-1001,Fjordland Bygg AS,12345678903,{serial}1,,{kids[0]},"
            f"Steel beams,12500.00,NOK,{posted},{due}",
            f"INV-{serial}-2,invoice,C-1002,Kari Hansen,,{serial}2,,{kids[1]},"
            f"Workshop service,2500.00,NOK,{posted},{due}",
            f"INV-{serial}-3,invoice,C-1003,Per Olsen,,{serial}3,,{kids[2]},"
            f"Workshop service,1250.00,NOK,{posted},{due}",
            f"INV-{serial}-4,invoice,C-1005,Sjobris Marine AS,NO8330001234567,{invoice_no},,,"
            f"Hull repairs,8900.00,NOK,{posted},{due}",
            f"BILL-{serial},bill,S-2001,Staalgrossisten AS,15030123455,B-{serial},{bill_no},,"
            f"Steel plates,-15000.00,NOK,{posted},{due}",
        ]
        csv = OPEN_ITEMS_HEADER + "\n".join(rows) + "\n"
        return Webhook(tenant, text.encode(), csv.encode())


def signed(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "x-bankrec-timestamp": timestamp,
        "x-bankrec-signature": f"sha256={mac.hexdigest()}",
        "content-type": "application/octet-stream",
    }


@dataclass
class Counts:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    failed: int = 0
    late: int = 0  # webhooks that left more than a second after their slot
    skipped: int = 0  # slots with no webhook: IN_FLIGHT_MAX were unanswered until the end
    items_refused: int = 0  # open-item imports the ledger did not take


async def post_webhooks(
    config: StackConfig,
    source: StatementSource,
    secrets: dict[str, str],
    keys: dict[str, dict[str, str]],
    rate: float,
    seconds: float,
    counts: Counts,
) -> None:
    """Post webhooks at ``rate`` per second for ``seconds``, each at its own slot."""
    gate = asyncio.Semaphore(IN_FLIGHT_MAX)
    ingest, ledger = config.base_url("ingest"), config.base_url("ledger")
    limits = httpx.Limits(max_connections=IN_FLIGHT_MAX)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:

        async def post(webhook: Webhook) -> None:
            tenant, body = webhook.tenant, webhook.body
            try:
                # the invoices first, as a business sends them before it is paid (a payment
                # that still comes first waits in suspense and is matched when they arrive)
                imported = await http.post(
                    f"{ledger}/v1/tenants/{tenant}/open-items/import",
                    content=webhook.open_items_csv,
                    headers={"content-type": "text/csv", **keys[tenant]},
                )
                if imported.status_code != 200 or imported.json().get("errors"):
                    counts.items_refused += 1
                response = await http.post(
                    f"{ingest}/v1/webhooks/{tenant}/statements",
                    content=body,
                    headers=signed(secrets[tenant], body),
                )
            except httpx.HTTPError:
                counts.failed += 1
            else:
                if response.status_code == 202:
                    counts.accepted += 1
                else:
                    counts.refused += 1
            finally:
                gate.release()

        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + seconds
        tasks: set[asyncio.Task[None]] = set()
        number = 0
        try:
            while (slot := started + number / rate) < deadline:
                await asyncio.sleep(max(0.0, slot - loop.time()))
                try:  # bounded in time: no webhook leaves after the deadline
                    await asyncio.wait_for(gate.acquire(), max(0.001, deadline - loop.time()))
                except TimeoutError:
                    break
                if loop.time() - slot > 1.0:
                    counts.late += 1
                task = asyncio.create_task(post(source.next(number)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                counts.sent += 1
                number += 1
            counts.skipped = int(seconds * rate) - counts.sent
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


# -- the samples


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def group_lags(bootstrap: str) -> dict[str, int]:
    """Every bankrec consumer group's lag: end offsets minus committed, over its partitions."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bankrec-soak")
    await admin.start()
    try:
        groups = sorted(
            str(g[0])
            for g in await admin.list_consumer_groups()
            if str(g[0]).startswith("bankrec-")
        )
        committed = {g: await admin.list_consumer_group_offsets(g) for g in groups}
    finally:
        await admin.close()
    partitions = {tp for offsets in committed.values() for tp in offsets}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bankrec-soak")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(partitions)) if partitions else {}
    finally:
        await consumer.stop()
    return {
        group: sum(
            max(0, ends[tp] - meta.offset) for tp, meta in offsets.items() if meta.offset >= 0
        )
        for group, offsets in committed.items()
    }


async def topic_ends(bootstrap: str, topic: Topic) -> dict[int, int]:
    """Each partition's end offset."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bankrec-soak")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def topic_total(bootstrap: str, topic: Topic) -> int:
    """Messages a topic holds: the sum of its end offsets (the soak counts the difference)."""
    return sum((await topic_ends(bootstrap, topic)).values())


async def final_decision_kinds(bootstrap: str, since: dict[int, int]) -> dict[str, int]:
    """How many lines the run's decisions left in each kind: the last decision of each line
    (a line's decisions share its account's key, so its partition keeps their order)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = await topic_ends(bootstrap, DECISIONS)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="bankrec-soak",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    final: dict[str, str] = {}
    try:
        wanted = {
            TopicPartition(DECISIONS.name, p): end
            for p, end in ends.items()
            if end > since.get(p, 0)
        }
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, since.get(tp.partition, 0))

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in wanted.items()])

        while await behind():
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    try:
                        payload = json.loads(record.value or b"{}").get("payload") or {}
                    except (ValueError, AttributeError):
                        continue  # not a decision envelope (it went to the dead letters)
                    if isinstance(payload, dict) and "line_id" in payload and "kind" in payload:
                        final[payload["line_id"]] = payload["kind"]
    finally:
        await consumer.stop()
    return dict(sorted(Counter(final.values()).items()))


@dataclass
class Samples:
    rss: dict[str, list[int]] = field(default_factory=dict)
    rss_at: dict[str, list[float]] = field(default_factory=dict)  # seconds into the run
    lag: list[tuple[float, int, dict[str, int]]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def take_rss(self, stack: ServiceStack) -> None:
        for name, service in stack.services.items():
            pid = service.process.pid if service.process is not None else None
            found = rss_bytes(pid) if pid is not None else None
            if found is not None:
                self.rss.setdefault(name, []).append(found)
                self.rss_at.setdefault(name, []).append(time.monotonic() - self.started)

    def rss_figures(self, posting_seconds: float) -> dict[str, dict[str, Any]]:
        """Per service: MiB at start, end and maximum, one value a minute, and the growth
        over the second half of the posting (MiB a minute): a working set that has levelled
        off grows ~0 there, a leak as much as in the first half."""
        figures: dict[str, dict[str, Any]] = {}
        for name, values in self.rss.items():
            times = self.rss_at[name]
            by_minute: dict[int, float] = {}
            for at, value in zip(times, values, strict=True):
                by_minute.setdefault(int(at // 60), round(value / 2**20, 1))
            half = [
                (at, v) for at, v in zip(times, values, strict=True) if at >= posting_seconds / 2
            ]
            half = [(at, v) for at, v in half if at <= posting_seconds] or half
            growth = None
            if len(half) >= 2 and half[-1][0] > half[0][0]:
                growth = (half[-1][1] - half[0][1]) / 2**20 / ((half[-1][0] - half[0][0]) / 60)
            figures[name] = {
                "start": round(values[0] / 2**20, 1),
                "end": round(values[-1] / 2**20, 1),
                "max": round(max(values) / 2**20, 1),
                "by_minute": [by_minute[m] for m in sorted(by_minute)],
                "second_half_growth_mib_per_minute": None if growth is None else round(growth, 2),
            }
        return figures

    async def take_lag(self, bootstrap: str, since: float) -> int:
        try:
            lags = await group_lags(bootstrap)
        except Exception as exc:  # a sample missed is reported, not fatal
            print(f"  lag sample failed: {exc}", file=sys.stderr)
            return -1
        total = sum(lags.values())
        self.lag.append((time.monotonic() - since, total, lags))
        return total


async def sample_while(
    stack: ServiceStack, bootstrap: str, samples: Samples, every: float, stop: asyncio.Event
) -> None:
    started = time.monotonic()
    while not stop.is_set():
        samples.take_rss(stack)
        total = await samples.take_lag(bootstrap, started)
        mib = {n: round(v[-1] / 2**20) for n, v in samples.rss.items() if v}
        print(f"  t={time.monotonic() - started:6.0f}s lag={total:6d} rss_mib={mib}", flush=True)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


# -- the infrastructure


@contextmanager
def private_kafka() -> Iterator[str]:
    port, controller_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bankrec-soak-kafka-"))
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_DATA_DIR": str(data_dir),
    }
    script = REPO_ROOT / "deploy" / "local" / "kafka.sh"
    subprocess.run(["bash", str(script), "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, check=False)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def postgres_databases(run: str) -> Iterator[dict[str, str]]:
    """A new PostgreSQL database per service (deploy/local/postgres.sh), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    script = REPO_ROOT / "deploy" / "local" / "postgres.sh"
    admin_url = (
        os.environ.get("BANKREC_TEST_POSTGRES_URL")
        or subprocess.run(
            ["bash", str(script), "url", "bankrec_test"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    admin = make_url(admin_url)

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=admin.host,
            port=admin.port or 5432,
            user=admin.username,
            password=admin.password,
            dbname=admin.database,
            autocommit=True,
        )

    names = {service: f"soak_{service}_{run}" for service in SERVICE_NAMES}
    with connect() as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            service: admin.set(database=name, drivername="postgresql+psycopg").render_as_string(
                hide_password=False
            )
            for service, name in names.items()
        }
    finally:
        with connect() as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def error_lines(state_dir: Path) -> dict[str, int]:
    """ERROR (and CRITICAL) log lines per service."""
    found: dict[str, int] = {}
    for name in SERVICE_NAMES:
        log = state_dir / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        found[name] = sum(
            '"level": "ERROR"' in line or '"level": "CRITICAL"' in line
            for line in text.splitlines()
        )
    return found


# -- the run


def prepare_tenants(
    config: StackConfig, tenants: list[str]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Each tenant's webhook secret and API key header (known to every service)."""
    secrets: dict[str, str] = {}
    keys: dict[str, dict[str, str]] = {}
    with httpx.Client(timeout=30.0) as http:
        for tenant in tenants:
            client = BankrecClient(config, tenant, key_wait_seconds=90.0)
            try:
                keys[tenant] = client.auth_headers("ledger")
                for service in ("matcher", "reconciler"):
                    client.auth_headers(service)
            finally:
                client.close()
            answer = http.post(
                f"{config.base_url('ingest')}/v1/admin/tenants/{tenant}/webhook-secret",
                headers={"authorization": f"Bearer {config.admin_token}"},
            )
            answer.raise_for_status()
            secrets[tenant] = str(answer.json()["webhook_secret"])
    return secrets, keys


async def soak(
    args: argparse.Namespace, config: StackConfig, stack: ServiceStack
) -> dict[str, Any]:
    bootstrap = config.kafka_bootstrap_servers
    run = uuid.uuid4().hex[:6]
    tenants = [f"soak-{run}-{i}" for i in range(args.tenants)]
    secrets, keys = prepare_tenants(config, tenants)
    source = StatementSource(tenants, args.accounts, args.seed)
    samples = Samples()
    lines_before = await topic_total(bootstrap, STATEMENT_LINES)
    decisions_at_start = await topic_ends(bootstrap, DECISIONS)
    decisions_before = sum(decisions_at_start.values())
    dead_before = await topic_total(bootstrap, DEAD_LETTERS)
    counts = Counts()
    print(
        f"posting {args.rate:g} webhooks/s for {args.minutes:g} min "
        f"({len(tenants)} tenants x {args.accounts} accounts, seed {args.seed}); "
        f"sampling every {args.sample_seconds:g} s"
    )
    stop = asyncio.Event()
    sampler = asyncio.create_task(
        sample_while(stack, bootstrap, samples, args.sample_seconds, stop)
    )
    posting_started = time.monotonic()
    drained_after: float | None = None
    try:
        await post_webhooks(config, source, secrets, keys, args.rate, args.minutes * 60, counts)
        posting_seconds = time.monotonic() - posting_started
        lag_at_end = await samples.take_lag(bootstrap, posting_started)
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < args.drain_seconds:
            if await samples.take_lag(bootstrap, posting_started) == 0:
                drained_after = time.monotonic() - drain_started
                break
            await asyncio.sleep(1.0)
    finally:  # also on Ctrl-C or SIGTERM, so the stack and the broker stop behind it
        stop.set()
        await sampler
    samples.take_rss(stack)
    lines = await topic_total(bootstrap, STATEMENT_LINES) - lines_before
    decisions = await topic_total(bootstrap, DECISIONS) - decisions_before
    dead_letters = await topic_total(bootstrap, DEAD_LETTERS) - dead_before
    lag_values = [total for _, total, _ in samples.lag if total >= 0]
    return {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "rate_per_second": args.rate,
        "database": args.database,
        "seed": args.seed,
        "service_settings": sorted(args.service_setting),
        "posting_seconds": round(posting_seconds, 1),
        "webhooks": vars(counts),
        "statement_lines_published": lines,
        "decisions_published": decisions,
        "lines_by_final_decision": await final_decision_kinds(bootstrap, decisions_at_start),
        "dead_letters": dead_letters,
        "error_log_lines": error_lines(config.state_dir),
        "rss_mib": samples.rss_figures(posting_seconds),
        "lag": {
            "max": max(lag_values, default=0),
            "at_end_of_posting": lag_at_end,
            "drained_after_seconds": None if drained_after is None else round(drained_after, 1),
            "after_drain": lag_values[-1] if lag_values else None,
            "samples": len(lag_values),
            "max_by_group": {
                group: max(lags.get(group, 0) for _, _, lags in samples.lag)
                for group in sorted({g for _, _, lags in samples.lag for g in lags})
            },
            "after_drain_by_group": samples.lag[-1][2] if samples.lag else {},
        },
    }


def render(figures: dict[str, Any]) -> str:
    w = figures["webhooks"]
    errors = w["refused"] + w["failed"] + sum(figures["error_log_lines"].values())
    rows = [
        f"soak: {figures['minutes']:g} min at {figures['rate_per_second']:g} webhooks/s "
        f"({figures['database']}, seed {figures['seed']}; settings "
        f"{', '.join(figures['service_settings']) or 'the defaults'})",
        f"  messages in:  {w['sent']} webhooks sent, {w['accepted']} accepted (202), "
        f"{figures['statement_lines_published']} statement lines published, "
        f"{figures['decisions_published']} decisions; lines by final decision "
        f"{figures['lines_by_final_decision']}",
        f"  errors:       {errors} ({w['refused']} refused, {w['failed']} failed, ERROR log lines "
        f"{figures['error_log_lines']}); {figures['dead_letters']} dead letters; "
        f"{w['late']} webhooks over 1 s late, {w['skipped']} slots skipped (ingest saturated), "
        f"{w['items_refused']} open-item imports refused",
        "  RSS MiB (start / end / max; growth over the second half, MiB/min; each minute):",
        *(
            f"    {name:<11} {v['start']:7.1f} {v['end']:7.1f} {v['max']:7.1f}"
            f"  {v['second_half_growth_mib_per_minute']!s:>6}  {v['by_minute']}"
            for name, v in figures["rss_mib"].items()
        ),
        f"  consumer lag (messages, all groups): max {figures['lag']['max']}, at the end of "
        f"posting {figures['lag']['at_end_of_posting']}, drained after "
        f"{figures['lag']['drained_after_seconds']} s (then {figures['lag']['after_drain']})",
        *(
            f"    {group:<58} max {lag:6d}, last {figures['lag']['after_drain_by_group'].get(g)}"
            for g, lag in figures["lag"]["max_by_group"].items()
            if (group := g.removeprefix("bankrec-"))
        ),
    ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="posting time (default 10)")
    # the defaults are the run in the README: a rate this 2-core machine keeps with matching
    parser.add_argument("--rate", type=float, default=2.0, help="webhooks per second (2)")
    parser.add_argument("--tenants", type=int, default=2, help="tenants (default 2)")
    parser.add_argument("--accounts", type=int, default=2, help="accounts per tenant (2)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="sampling period (5)")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="lag drain wait (120)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the made-up accounts (1)")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--bootstrap-servers",
        help="an existing broker (default: one of its own; never a broker other stacks use)",
    )
    parser.add_argument("--logs", type=Path, help="keep the services' logs in this folder")
    parser.add_argument(
        "--service-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the services' environment, e.g. "
        "BANKREC_MATCHER_CLOSED_ITEMS_KEPT_FOR=PT2M (repeatable; shown with the figures)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=REPO_ROOT / "var" / "soak" / "soak.json",
        help="where the figures are written (default var/soak/soak.json)",
    )
    return parser.parse_args(argv)


def _interrupted(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C: services, broker, databases go


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = dict(setting.partition("=")[::2] for setting in args.service_setting)
    if not all(name.startswith("BANKREC_") and value for name, value in settings.items()):
        print(f"--service-setting takes BANKREC_...=VALUE, not {args.service_setting}")
        return 2
    os.environ.update(settings)  # the service processes inherit the environment
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with & (ignored)
    run = uuid.uuid4().hex[:8]
    with ExitStack() as resources:
        bootstrap = args.bootstrap_servers or resources.enter_context(private_kafka())
        databases = (
            resources.enter_context(postgres_databases(run)) if args.database == "postgres" else {}
        )
        state_dir = Path(
            resources.enter_context(tempfile.TemporaryDirectory(prefix="bankrec-soak-"))
        )
        config = StackConfig(
            kafka_bootstrap_servers=bootstrap,
            state_dir=state_dir,
            ports={name: free_port() for name in SERVICE_NAMES},
            database_urls=databases,
            log_level="INFO",
        )
        asyncio.run(start_groups_at_end(bootstrap))
        try:
            with ServiceStack(config) as stack:
                figures = asyncio.run(soak(args, config, stack))
        finally:
            if args.logs is not None:  # the services' logs outlive the run's state
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in state_dir.glob("*.log"):
                    shutil.copy2(log, args.logs / log.name)
    print(render(figures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.json}")
    failed = figures["webhooks"]["refused"] + figures["webhooks"]["failed"]
    return 1 if failed or figures["lag"]["after_drain"] not in (0, None) else 0


if __name__ == "__main__":
    sys.exit(main())
