"""Tables of the domain. Times are stored and returned as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Refuses naive datetimes on the way in; SQLite hands back naive ones, made UTC here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Mention(Base):
    """One post that names the brand, stored once per (source, external_id)."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_mentions_source_external"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(2048))
    author_handle: Mapped[str] = mapped_column(String(256))
    author_display_name: Mapped[str | None] = mapped_column(String(256))
    author_followers: Mapped[int] = mapped_column(default=0)
    author_verified: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    in_reply_to: Mapped[str | None] = mapped_column(String(128))
    posted_at: Mapped[datetime]
    received_at: Mapped[datetime]
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class OutboxKind(StrEnum):
    TRIAGE_CARD = "triage_card"


class Outbox(Base):
    """A message the team must see, committed with the change that caused it.

    `due_at` doubles as the lease: a worker that takes a job pushes it into the future, so a
    worker that dies mid-send leaves the job to be taken again when the lease runs out.
    `in_flight` marks a send whose outcome was never recorded.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[OutboxKind] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(80))
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    payload: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    in_flight: Mapped[bool] = mapped_column(default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(String(512))
    result_channel: Mapped[str | None] = mapped_column(String(32))
    result_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]

    mention: Mapped[Mention | None] = relationship()


class ChannelPace(Base):
    """Shared pacing of one Slack channel across replicas (a virtual-scheduling rate limit)."""

    __tablename__ = "channel_pace"

    channel: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)  # consecutive 5xx or network errors
    channel_id: Mapped[str | None] = mapped_column(String(32))  # learnt from Slack's answers
