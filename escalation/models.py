"""Tables of the domain. Times are stored and returned as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from escalation.workflow import CaseStatus


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


class Case(Base):
    """What the team works on: one or more mentions, an owner, a status, its escalations."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[CaseStatus] = mapped_column(String(24), default=CaseStatus.NEW)
    priority: Mapped[str] = mapped_column(String(2), default="P3")
    owner_id: Mapped[str | None] = mapped_column(String(32))
    owner_since: Mapped[datetime | None]
    before_snooze: Mapped[str | None] = mapped_column(String(24))
    resolution: Mapped[str | None] = mapped_column(String(32))
    resolution_link: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    triage_channel: Mapped[str | None] = mapped_column(String(32))
    triage_ts: Mapped[str | None] = mapped_column(String(32))

    mentions: Mapped[list[Mention]] = relationship(back_populates="case", order_by="Mention.id")
    escalations: Mapped[list[Escalation]] = relationship(order_by="Escalation.id")
    deadlines: Mapped[list[Deadline]] = relationship(back_populates="case", order_by="Deadline.id")

    @property
    def mention(self) -> Mention:
        """The mention that opened the case."""
        return self.mentions[0]

    @property
    def escalation(self) -> Escalation | None:
        """The escalation the case is waiting on, if any."""
        latest = self.escalations[-1] if self.escalations else None
        return latest if latest and latest.is_open else None

    def deadline(self, kind: str, escalation_id: int | None = None) -> Deadline | None:
        """The newest deadline of `kind` (for an escalation: that escalation's)."""
        found = [d for d in self.deadlines if d.kind == kind and d.escalation_id == escalation_id]
        return found[-1] if found else None


class Mention(Base):
    """One post that names the brand, stored once per (source, external_id)."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_mentions_source_external"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
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
    # What triage concluded when the mention arrived (escalation/triage).
    sentiment: Mapped[str | None] = mapped_column(String(8))
    reach: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(2))
    department: Mapped[str | None] = mapped_column(String(32))  # suggested
    department_confidence: Mapped[float | None] = mapped_column(Float)
    risks: Mapped[list | None] = mapped_column(JSON)
    needs_reply: Mapped[bool | None]
    crisis_signal: Mapped[bool | None]
    reasons: Mapped[list | None] = mapped_column(JSON)

    case: Mapped[Case | None] = relationship(back_populates="mentions")


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    SENT_BACK = "sent_back"
    REASSIGNED = "reassigned"
    WITHDRAWN = "withdrawn"  # the case was resolved while the department had it


class Escalation(Base):
    """One request to one department, from the question to its answer (or its end)."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department: Mapped[str] = mapped_column(String(32))
    status: Mapped[EscalationStatus] = mapped_column(String(16), default=EscalationStatus.OPEN)
    question: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    closed_note: Mapped[str | None] = mapped_column(Text)  # why it was sent back or moved
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))

    case: Mapped[Case] = relationship(back_populates="escalations")

    @property
    def is_open(self) -> bool:
        return self.status in (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED)


class DeadlineStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # waiting on the customer
    MET = "met"
    CANCELLED = "cancelled"  # no longer owed (resolved without a reply, escalation moved)


class Deadline(Base):
    """A response target a case or an escalation owes, and where its clock stands."""

    __tablename__ = "deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(32))  # whose calendar counts
    started_at: Mapped[datetime]
    target_seconds: Mapped[float] = mapped_column(Float)
    around_the_clock: Mapped[bool] = mapped_column(default=False)
    pauses: Mapped[list] = mapped_column(JSON, default=list)  # [[start, end or null], ...]
    due_at: Mapped[datetime]
    status: Mapped[DeadlineStatus] = mapped_column(String(16), default=DeadlineStatus.RUNNING)
    state: Mapped[str] = mapped_column(String(16), default="on_track")  # as last drawn
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="deadlines")
    nags: Mapped[list[Nag]] = relationship(back_populates="deadline", order_by="Nag.id")


class NagStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"


class Nag(Base):
    """One step of the reminder ladder, due at a moment; sent once, by whichever replica
    takes it first."""

    __tablename__ = "nags"
    __table_args__ = (
        UniqueConstraint("deadline_id", "step", name="uq_nags_deadline_step"),
        Index("ix_nags_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    step: Mapped[str] = mapped_column(String(48))
    due_at: Mapped[datetime]
    status: Mapped[NagStatus] = mapped_column(String(16), default=NagStatus.PENDING)
    sent_at: Mapped[datetime | None]
    snoozes: Mapped[int] = mapped_column(default=0)
    recipient: Mapped[str | None] = mapped_column(String(32))  # for a snoozed reminder

    deadline: Mapped[Deadline] = relationship(back_populates="nags")


class Suggestion(Base):
    """Reply drafts offered for a case, as shown: who asked, what made them, what each breaks.

    `drafts` holds, per draft, its text, tone, reason, flags, origin and problems (rule and
    sentence); a person approves one by its position.
    """

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime]
    origin: Mapped[str] = mapped_column(String(16))  # llm | template
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(64))
    llm_calls: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(Text)  # why templates, when an LLM was configured
    drafts: Mapped[list] = mapped_column(JSON)

    case: Mapped[Case] = relationship()


class ReplyStatus(StrEnum):
    AWAITING_SECOND = "awaiting_second"  # approved once; P1 or Legal needs another person
    APPROVED = "approved"  # ready to post, or to mark replied
    POSTING = "posting"  # handed to the network; its answer is not recorded yet
    POSTED = "posted"
    FAILED = "failed"  # the network refused it: nothing was posted
    UNCERTAIN = "uncertain"  # it may or may not be out; a person looks before anything else
    MARKED = "marked"  # a person replied themselves and gave the link
    SUPERSEDED = "superseded"  # another reply was approved instead


class Reply(Base):
    """The public answer to a case as approved: its text, who approved it, and its fate."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"))
    draft_index: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text)
    edited: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ReplyStatus] = mapped_column(String(16))
    approved_by: Mapped[str] = mapped_column(String(32))  # the author of the final text
    approved_at: Mapped[datetime]
    second_needed: Mapped[str | None] = mapped_column(String(64))  # why, e.g. "P1, Legal"
    second_approver: Mapped[str | None] = mapped_column(String(32))
    second_approved_at: Mapped[datetime | None]
    posted_by: Mapped[str | None] = mapped_column(String(32))
    posted_id: Mapped[str | None] = mapped_column(String(64))
    link: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(String(512))
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]

    case: Mapped[Case] = relationship()
    suggestion: Mapped[Suggestion | None] = relationship()


class CaseEvent(Base):
    """The audit trail: who did what to a case, when, from which status to which."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)


class ProcessedRequest(Base):
    """Keys of requests already applied (a click, a submission): a retry changes nothing."""

    __tablename__ = "processed_requests"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class OutboxKind(StrEnum):
    TRIAGE_CARD = "triage_card"  # post the case's card in the triage channel
    TRIAGE_UPDATE = "triage_update"  # redraw it (coalesced: one pending per case)
    THREAD_NOTE = "thread_note"  # one line of history in the card's thread
    DEPARTMENT_CARD = "department_card"  # post an escalation in the department's channel
    DEPARTMENT_UPDATE = "department_update"  # redraw it
    NAG = "nag"  # a reminder: a line in a thread, or a direct message with a Snooze button
    MENTION_ADDED = "mention_added"  # a later mention of the case's conversation, in its thread
    REPLY_DRAFTS = "reply_drafts"  # suggested replies, in the case's thread
    REPLY_CARD = "reply_card"  # an approved reply with what can be done with it, in the thread
    REPLY_UPDATE = "reply_update"  # redraw it
    SURGE_ALERT = "surge_alert"  # a surge detected, for the rapid-action team
    DIGEST = "digest"  # a manager's daily digest, by direct message


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
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    nag_id: Mapped[int | None] = mapped_column(ForeignKey("nags.id"))
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

    case: Mapped[Case | None] = relationship()
    mention: Mapped[Mention | None] = relationship()
    escalation: Mapped[Escalation | None] = relationship()
    event: Mapped[CaseEvent | None] = relationship()
    nag: Mapped[Nag | None] = relationship()


class ChannelPace(Base):
    """Shared pacing of one Slack channel (or API method) across replicas: a GCRA limit."""

    __tablename__ = "channel_pace"

    channel: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)  # consecutive 5xx or network errors
    channel_id: Mapped[str | None] = mapped_column(String(32))  # learnt from Slack's answers


class SourceCursor(Base):
    """Where polling of one account on one network stands, and which replica holds it.

    Only the replica holding the lease polls the account; a rate limit parks it until
    `resume_at` without holding anything else up.
    """

    __tablename__ = "source_cursors"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # e.g. "x:1234567"
    cursor: Mapped[str | None] = mapped_column(String(255))  # since_id, or a page cursor
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    resume_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(512))
