"""Speed and memory of ingest on a big generated camt.053 file, as ratios to a baseline.

    uv run python services/ingest/bench/parse_bench.py [--entries 50000] [--kafka HOST:PORT]

Parsing is compared with a bare ``lxml.etree.iterparse`` over the same bytes (the floor any
lxml parser pays); memory is the process's peak RSS growth compared with the file size.
With ``--kafka`` the pipelined publisher is compared with one ``publish_envelope`` (one
acknowledgement) per message on the same broker. Machines are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import resource
import sys
import time
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ingest_factories import Detail, Entry, Statement, camt_file

from bankrec.ingest.adapters import KafkaPublisher
from bankrec.ingest.domain import messages_for, parse_statement_file
from bankrec.ingest.domain.parsers.safe_xml import PARSER_OPTIONS


def big_statement(entries: int) -> bytes:
    return camt_file(
        Statement(
            entries=[
                Entry(
                    amount=f"{(index % 997) + 1}.{index % 100:02d}",
                    indicator="DBIT" if index % 3 == 0 else "CRDT",
                    reference=str(index),
                    details=[
                        Detail(
                            debtor="KARI HANSEN",
                            debtor_iban="NO8330001234567",
                            end_to_end_id=f"E2E-{index}",
                            creditor_reference="1002345005",
                            unstructured=[f"Faktura {index}"],
                        )
                    ],
                )
                for index in range(entries)
            ]
        )
    )


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def bench_parse(data: bytes) -> None:
    started = time.perf_counter()
    for _event, element in etree.iterparse(io.BytesIO(data), events=("end",), **PARSER_OPTIONS):
        element.clear()
    baseline = time.perf_counter() - started

    rss_before = peak_rss_bytes()
    started = time.perf_counter()
    result = parse_statement_file(data, tenant_id="bench", upload_bytes_max=len(data))
    parsed = time.perf_counter() - started
    rss_growth = peak_rss_bytes() - rss_before
    print(
        f"file {len(data) / 1e6:.1f} MB, {result.line_count} lines\n"
        f"  bare iterparse   {baseline:7.2f} s   (baseline)\n"
        f"  ingest parse     {parsed:7.2f} s   {parsed / baseline:5.1f}x baseline, "
        f"{parsed / result.line_count * 1e6:.0f} us/line\n"
        f"  peak RSS growth  {rss_growth / 1e6:7.1f} MB  {rss_growth / len(data):5.1f}x file size"
    )


async def bench_publish(data: bytes, bootstrap: str, lines_max: int) -> None:
    from bankrec.runtime import create_broker, publish_envelope

    result = parse_statement_file(data, tenant_id="bench", upload_bytes_max=len(data))
    messages = messages_for(result, tenant_id="bench")[:lines_max]
    broker = create_broker(bootstrap, client_id="bankrec-ingest-bench")
    await broker.start()
    try:
        started = time.perf_counter()
        for message in messages:
            await publish_envelope(broker, message.topic, message.key, message.envelope)
        one_by_one = time.perf_counter() - started
        started = time.perf_counter()
        await KafkaPublisher(broker).publish(messages)
        pipelined = time.perf_counter() - started
    finally:
        await broker.stop()
    print(
        f"publish {len(messages)} messages to {bootstrap}\n"
        f"  publish_envelope one by one  {one_by_one:7.2f} s   (baseline)\n"
        f"  KafkaPublisher pipelined     {pipelined:7.2f} s   {one_by_one / pipelined:5.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--kafka", help="bootstrap servers; also measure publishing")
    parser.add_argument("--publish-max", type=int, default=2_000, help="messages to publish")
    args = parser.parse_args()
    data = big_statement(args.entries)
    bench_parse(data)
    if args.kafka:
        asyncio.run(bench_publish(data, args.kafka, args.publish_max))


if __name__ == "__main__":
    main()
