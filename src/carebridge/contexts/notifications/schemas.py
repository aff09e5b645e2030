"""What the inbox and preferences API reads and writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carebridge.engines.opening_hours import valid_time_zone

ChannelName = Literal["in_app", "email", "sms"]


def _all_channels() -> list[ChannelName]:
    return ["in_app", "email", "sms"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class InboxItem(BaseModel):
    id: uuid.UUID
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    unread: int
    next_cursor: str | None


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ChannelName] = Field(default_factory=_all_channels, max_length=3,
                                        description="Where messages may reach me; the log always gets them.")
    language: Literal["en", "hi"] | None = Field(None, description="Language of my messages; null: English.")
    quiet_start: str | None = Field(None, pattern=HHMM, description="Quiet hours start (HH:MM, local).")
    quiet_end: str | None = Field(None, pattern=HHMM, description="Quiet hours end (HH:MM, local).")
    time_zone: str = Field("Asia/Kolkata", max_length=64, description="IANA zone of the quiet hours.")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return valid_time_zone(value)

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[ChannelName]) -> list[ChannelName]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _both(self) -> Preferences:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("give both quiet_start and quiet_end, or neither")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValueError("quiet hours need a start and an end that differ")
        return self


class DeliveryStatus(BaseModel):
    id: uuid.UUID
    template: str
    status: str
    attempts: int
    channels: list[str]
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryStatus]
    next_cursor: str | None
