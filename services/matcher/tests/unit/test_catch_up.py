"""The start-up gate: ready once every partition's end offset (at start) has been read."""

from __future__ import annotations

import asyncio

from bankrec.matcher.catch_up import IndexCatchUp


def test_ready_at_once_when_the_topic_was_empty() -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 0, 1: 0})
    assert catch_up.ready


def test_ready_when_every_partition_reached_its_end() -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 3, 1: 1, 2: 0})
    catch_up.read(1, 0)
    catch_up.read(0, 1)
    assert not catch_up.ready
    assert catch_up.pending == {0: 3}
    catch_up.read(0, 2)
    assert catch_up.ready
    assert not catch_up.gave_up


def test_compaction_gaps_do_not_matter_only_the_last_offset_does() -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 100})
    catch_up.read(0, 57)  # offsets 0..56 were compacted away
    catch_up.read(0, 99)
    assert catch_up.ready


def test_records_newer_than_the_start_also_count() -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 2})
    catch_up.read(0, 5)
    assert catch_up.ready


async def test_giving_up_opens_the_gate() -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 2})
    waiter = asyncio.create_task(catch_up.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    catch_up.give_up()
    await asyncio.wait_for(waiter, timeout=1)
    assert catch_up.gave_up
