"""Ingest's tables: received files, published line and statement ids, credentials, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "statement_files",
        sa.Column("ingest_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("received_via", sa.String(20), nullable=False),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_format", sa.String(120), nullable=True),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("lines_published", sa.Integer(), nullable=False),
        sa.Column("lines_already_published", sa.Integer(), nullable=False),
        sa.Column("duplicate_of", sa.String(36), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("diagnostics", sa.Text(), nullable=False),
        sa.Column("spool_path", sa.String(500), nullable=True),
    )
    op.create_index("ix_statement_files_tenant_sha", "statement_files", ["tenant_id", "file_sha256"])
    op.create_index("ix_statement_files_status", "statement_files", ["status"])
    op.create_table(
        "published_lines",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("line_id", sa.String(36), primary_key=True),
        sa.Column("statement_id", sa.String(200), nullable=False),
        sa.Column("ingest_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "published_statements",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("statement_id", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("electronic_sequence_number", sa.Integer(), nullable=True),
        sa.Column("ingest_id", sa.String(36), nullable=False),
    )
    op.create_index(
        "ix_published_statements_account", "published_statements", ["tenant_id", "account_id"]
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("revoked_at", _timestamp(), nullable=True),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "webhook_secrets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("message_type", sa.String(100), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("published_at", _timestamp(), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def downgrade() -> None:
    for table in (
        "outbox",
        "webhook_secrets",
        "api_keys",
        "published_statements",
        "published_lines",
        "statement_files",
    ):
        op.drop_table(table)
