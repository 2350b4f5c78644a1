"""Deterministic ids: the same file always gives the same statement, line and message ids.

Re-uploading a file (a replayed webhook, a retry after a broker failure) therefore publishes
messages that consumers recognise as already processed.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespaces for uuid5: changing them would change every id ever published.
_LINE_NAMESPACE = uuid.UUID("6f1c7d2e-4a8b-5c3d-9e0f-1a2b3c4d5e6f")
_HEADER_MESSAGE_NAMESPACE = uuid.UUID("0b9e3c1a-7d42-5f8e-a6b1-c2d3e4f5a6b7")


def file_sha256(data: bytes) -> str:
    """The hex SHA-256 of a file's bytes: its identity and the messages' correlation id."""
    return hashlib.sha256(data).hexdigest()


def statement_id_for(account_id: str, bank_statement_id: str) -> str:
    """A statement's stable id: the bank's statement id scoped by the opaque account id."""
    return f"{account_id}:{bank_statement_id}"


def line_id_for(
    tenant_id: str,
    account_id: str,
    bank_statement_id: str,
    entry_index: int,
    detail_index: int | None,
) -> str:
    """A line's provisional id from its position (entry and transaction detail), unique in
    the file; ``line_identity.identify_lines`` replaces it with the id that stays the same
    across files and statements."""
    detail = "" if detail_index is None else str(detail_index)
    name = "|".join((tenant_id, account_id, bank_statement_id, str(entry_index), detail))
    return str(uuid.uuid5(_LINE_NAMESPACE, name))


def header_message_id_for(statement_id: str, sha256: str) -> str:
    """The envelope id of a statement header: one per statement and file.

    A uuid rather than the concatenation, so it fits every consumer's inbox column.
    """
    return str(uuid.uuid5(_HEADER_MESSAGE_NAMESPACE, f"{statement_id}|{sha256}"))
