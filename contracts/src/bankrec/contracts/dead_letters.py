"""A message a consumer could not process, with the reason."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, Field


class DeadLetter(BaseModel):
    MESSAGE_TYPE: ClassVar[str] = "message.dead_lettered"

    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    consumer: str = Field(description="Service and consumer group that refused it")
    reason_code: str
    reason: str
    original_key: str | None = None
    original_value: str = Field(description="The original bytes, decoded as UTF-8 (replaced)")
    failed_at: AwareDatetime
