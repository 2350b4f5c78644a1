"""Shared machinery of the bankrec services, written once."""

from bankrec.runtime.asyncapi import (
    asyncapi_document,
    declare_publishers,
    install_asyncapi_route,
)
from bankrec.runtime.database import (
    DatabaseUrlError,
    async_url,
    create_engine,
    session_factory,
    sync_url,
    upgrade_database,
)
from bankrec.runtime.kafka import (
    JSON_HEADERS,
    MessageDecodeError,
    create_broker,
    decode_payload,
    encode_envelope,
    ensure_topics,
    publish_envelope,
    subscriber_options,
)
from bankrec.runtime.messaging import (
    OutboxRelay,
    RawPublisher,
    claim_inbox,
    inbox_table,
    outbox_table,
    publish_dead_letter,
    stage_message,
)
from bankrec.runtime.service import configure_logging, serve
from bankrec.runtime.settings import ServiceSettings

__all__ = [
    "JSON_HEADERS",
    "DatabaseUrlError",
    "MessageDecodeError",
    "OutboxRelay",
    "RawPublisher",
    "ServiceSettings",
    "async_url",
    "asyncapi_document",
    "claim_inbox",
    "configure_logging",
    "create_broker",
    "create_engine",
    "declare_publishers",
    "decode_payload",
    "encode_envelope",
    "ensure_topics",
    "inbox_table",
    "install_asyncapi_route",
    "outbox_table",
    "publish_dead_letter",
    "publish_envelope",
    "serve",
    "session_factory",
    "stage_message",
    "subscriber_options",
    "sync_url",
    "upgrade_database",
]
