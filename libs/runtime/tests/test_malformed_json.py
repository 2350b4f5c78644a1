"""A malformed JSON body must reach the handler (and so the dead letters), not fail inside
FastStream: with a JSON content-type FastStream decoded every body before the handler ran,
and a body that is not JSON failed there, unacknowledged, and came again forever."""

from __future__ import annotations

from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bankrec.runtime import JSON_HEADERS, create_broker, subscriber_options


async def test_a_malformed_json_body_reaches_the_handler() -> None:
    broker = create_broker("127.0.0.1:1", client_id="test")
    bodies: list[bytes] = []

    async def handler(message: KafkaMessage) -> None:
        bodies.append(message.body)

    broker.subscriber("bankrec.test.malformed.v1", **subscriber_options("test-group"))(handler)
    async with TestKafkaBroker(broker):
        await broker.publish(b"{not json", topic="bankrec.test.malformed.v1", headers=JSON_HEADERS)
    assert bodies == [b"{not json"]
