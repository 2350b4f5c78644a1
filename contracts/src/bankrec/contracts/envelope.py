"""The one envelope every bankrec message travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PayloadT = TypeVar("PayloadT", bound=BaseModel)


class Envelope(BaseModel, Generic[PayloadT]):
    """Metadata every message carries, around a typed payload.

    ``correlation_id`` names the statement file (or API request) a message descends from;
    ``causation_id`` the message that directly caused it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    schema_version: int = 1
    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    correlation_id: str
    causation_id: str | None = None
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    payload: PayloadT


def envelope_for(
    payload: BaseModel,
    *,
    tenant_id: str,
    correlation_id: str,
    causation_id: str | None = None,
    message_id: str | None = None,
) -> Envelope[Any]:
    """Wrap a payload, naming its type from the payload's ``MESSAGE_TYPE``."""
    message_type = getattr(type(payload), "MESSAGE_TYPE", type(payload).__name__)
    fields: dict[str, Any] = {
        "type": message_type,
        "tenant_id": tenant_id,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload,
    }
    if message_id is not None:
        fields["message_id"] = message_id
    model: type[Envelope[Any]] = Envelope[type(payload)]  # type: ignore[misc,assignment]
    return model(**fields)
