"""Ingest's own tables: received files, what was published, tenant credentials, outbox.

Ingest keeps no statement content: only the ids of lines and statements it published (so
nothing is published twice) and a record per received file (what the status endpoint shows).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from bankrec.runtime import outbox_table

metadata = MetaData()

statement_files = Table(
    "statement_files",
    metadata,
    Column("ingest_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("received_via", String(20), nullable=False),  # upload | webhook | pull
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=False),  # received | published | duplicate | refused
    Column("source_format", String(120), nullable=True),
    Column("statements", Integer, nullable=False, default=0),
    Column("lines_published", Integer, nullable=False, default=0),
    Column("lines_already_published", Integer, nullable=False, default=0),
    Column("duplicate_of", String(36), nullable=True),
    Column("error_code", String(40), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("diagnostics", Text, nullable=False, default="[]"),  # JSON list
    Column("spool_path", String(500), nullable=True),  # a webhook body waiting to be read
    Index("ix_statement_files_tenant_sha", "tenant_id", "file_sha256"),
    Index("ix_statement_files_status", "status"),
)

published_lines = Table(
    "published_lines",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("line_id", String(36), primary_key=True),
    Column("statement_id", String(200), nullable=False),
    Column("ingest_id", String(36), nullable=False),
)

published_statements = Table(
    "published_statements",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("statement_id", String(200), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("electronic_sequence_number", Integer, nullable=True),
    Column("ingest_id", String(36), nullable=False),
    Index("ix_published_statements_account", "tenant_id", "account_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False),  # SHA-256 of the secret part
    Column("label", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)

# A tenant's pull of statement files from a bank or aggregator API (bank_pull_use_cases.py).
# ``auth_secret`` is the bearer token or basic password: the API never returns it, logs never
# show it. ``cursor`` is JSON {account: AccountCursor}; the lease makes one run at a time, on
# any instance, and expires by itself when an instance dies mid-run.
bank_pulls = Table(
    "bank_pulls",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("base_url", String(500), nullable=False),
    Column("auth_type", String(10), nullable=False),  # bearer | basic
    Column("auth_username", String(200), nullable=True),
    Column("auth_secret", Text, nullable=False),
    Column("accounts", Text, nullable=False, default="[]"),  # JSON list; empty: list them
    Column("statement_format", String(20), nullable=True),  # None: detect
    Column("interval_seconds", Integer, nullable=False),
    Column("fetch_from", DateTime(timezone=True), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("cursor", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("last_run_started_at", DateTime(timezone=True), nullable=True),
    Column("last_run_finished_at", DateTime(timezone=True), nullable=True),
    Column("last_run_status", String(20), nullable=True),  # succeeded | failed
    Column("last_run_error_code", String(40), nullable=True),
    Column("last_run_error_message", Text, nullable=True),
    Column("last_run", Text, nullable=True),  # JSON PullRun: files, problems
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Index("ix_bank_pulls_enabled", "enabled"),
)
