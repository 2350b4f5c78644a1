"""Shared machinery of the bankrec services, written once."""

from bankrec.runtime.asyncapi import (
    asyncapi_document,
    declare_publishers,
    install_asyncapi_route,
)
from bankrec.runtime.catch_up import TopicCatchUp
from bankrec.runtime.consumed_messages import (
    ConsumedRecord,
    dead_letter_record,
    decoded_envelope,
    decoded_envelopes,
    decoded_records,
    tenant_of_key,
)
from bankrec.runtime.database import (
    DatabaseUrlError,
    SnapshotTooLateError,
    async_url,
    begin_snapshot,
    create_engine,
    session_factory,
    sync_url,
    upgrade_database,
)
from bankrec.runtime.health import install_health_routes
from bankrec.runtime.kafka import (
    JSON_HEADERS,
    TENANT_KEY_MISMATCH,
    MessageDecodeError,
    ProducerSettings,
    ProducerSettingsError,
    create_broker,
    decode_payload,
    encode_envelope,
    ensure_topics,
    producer_settings,
    publish_envelope,
    readable_end_offsets,
    subscriber_options,
    whole_topic_reader_options,
)
from bankrec.runtime.log_masking import SensitiveDataFilter, mask_text
from bankrec.runtime.messaging import (
    OutboxRelay,
    RawPublisher,
    claim_inbox,
    inbox_table,
    outbox_table,
    publish_dead_letter,
    stage_message,
)
from bankrec.runtime.metrics import ServiceMetrics, metrics_of
from bankrec.runtime.operations import install_operations
from bankrec.runtime.service import JsonLogFormatter, configure_logging, serve
from bankrec.runtime.settings import ServiceSettings
from bankrec.runtime.tenant_keys import (
    TenantKeyReader,
    TenantKeyRefused,
    TenantKeyRing,
    include_tenant_routes,
)
from bankrec.runtime.tracing import TracingConfigurationError, tracing_to

__all__ = [
    "JSON_HEADERS",
    "TENANT_KEY_MISMATCH",
    "ConsumedRecord",
    "DatabaseUrlError",
    "JsonLogFormatter",
    "MessageDecodeError",
    "OutboxRelay",
    "ProducerSettings",
    "ProducerSettingsError",
    "RawPublisher",
    "SensitiveDataFilter",
    "ServiceMetrics",
    "ServiceSettings",
    "SnapshotTooLateError",
    "TenantKeyReader",
    "TenantKeyRefused",
    "TenantKeyRing",
    "TopicCatchUp",
    "TracingConfigurationError",
    "async_url",
    "asyncapi_document",
    "begin_snapshot",
    "claim_inbox",
    "configure_logging",
    "create_broker",
    "create_engine",
    "dead_letter_record",
    "declare_publishers",
    "decode_payload",
    "decoded_envelope",
    "decoded_envelopes",
    "decoded_records",
    "encode_envelope",
    "ensure_topics",
    "inbox_table",
    "include_tenant_routes",
    "install_asyncapi_route",
    "install_health_routes",
    "install_operations",
    "mask_text",
    "metrics_of",
    "outbox_table",
    "producer_settings",
    "publish_dead_letter",
    "publish_envelope",
    "readable_end_offsets",
    "serve",
    "session_factory",
    "stage_message",
    "subscriber_options",
    "sync_url",
    "tenant_of_key",
    "tracing_to",
    "upgrade_database",
    "whole_topic_reader_options",
]
