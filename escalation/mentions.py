"""Taking in a mention: validate it, store it once, and queue its triage card in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from escalation.cases import join_case, open_case
from escalation.models import Case, Mention
from escalation.people import Directory
from escalation.sla import Policies
from escalation.store import insert_ignoring_conflict
from escalation.triage import Assessment
from escalation.workflow import CaseStatus

MAX_TEXT = 10_000
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[^\s\x00-\x1f]{1,128}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class Source(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    THREADS = "threads"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    LINKEDIN = "linkedin"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    REDDIT = "reddit"
    SLACK = "slack"  # a colleague's message turned into a case
    OTHER = "other"


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    handle: Annotated[str, StringConstraints(pattern=r"^@?[^\s\x00-\x1f]{1,255}$")]
    display_name: Name | None = None
    followers: int = Field(default=0, ge=0, le=2**31 - 1)  # the column is a 32-bit integer
    verified: bool = False


class NewMention(BaseModel):
    """A mention as a source or the webhook hands it over. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: Source
    external_id: Identifier
    url: HttpUrl | None = None
    author: Author
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    created_at: AwareDatetime
    conversation_id: Identifier | None = None
    in_reply_to: Identifier | None = None
    lang: Language | None = None

    @field_validator("text")
    @classmethod
    def _printable(cls, value: str) -> str:
        if "\x00" in value or not value.strip():
            raise ValueError("text must hold visible characters and no NUL")
        return value

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and len(str(value)) > 2048:
            raise ValueError("url must be at most 2048 characters")
        return value


def record_mention(
    *,
    db: Session,
    mention: NewMention,
    triage_channel: str,
    now: datetime,
    assessment: Assessment | None = None,
    policies: Policies | None = None,
    grouping_window: timedelta | None = None,
    org: Directory | None = None,
    into_case: int | None = None,
) -> tuple[int, bool]:
    """Store `mention` unless (source, external_id) is known; a new one opens a case, or joins
    the open case of the same author's conversation within `grouping_window`, or the case
    `into_case` (the roll-up of a surge the mention belongs to).

    Returns the mention's id and whether it was new. One INSERT ... ON CONFLICT DO NOTHING
    decides, so concurrent deliveries of the same mention store it once without retries.
    """
    columns = _columns(mention, now) | _triage_columns(assessment)
    new_id = insert_ignoring_conflict(
        db, Mention, columns, keys=["source", "external_id"], returning=Mention.id
    )
    if new_id is None:
        return _existing_id(db, mention), False
    priority = assessment.priority if assessment else "P3"
    # A surge's mentions roll up into one case; others join their author's conversation.
    case_id = into_case or _conversation_case(db, mention, now, grouping_window)
    if case_id is not None:
        join_case(
            db=db,
            case_id=case_id,
            mention_id=new_id,
            priority=priority,
            triage_channel=triage_channel,
            now=now,
            org=org,
        )
    else:
        open_case(
            db=db,
            mention_id=new_id,
            triage_channel=triage_channel,
            now=now,
            priority=priority,
            source=mention.source.value,
            policies=policies,
        )
    return new_id, True


def _conversation_case(db: Session, mention: NewMention, now: datetime, window) -> int | None:
    """The open case of this author's conversation, if they wrote in it within `window`."""
    if not (window and mention.conversation_id):
        return None
    query = (
        select(Case.id)
        .join(Mention, Mention.case_id == Case.id)
        .where(
            Mention.source == mention.source.value,
            Mention.author_handle == mention.author.handle.removeprefix("@"),
            Mention.conversation_id == mention.conversation_id,
            Mention.received_at >= now - window,
            Case.status != CaseStatus.RESOLVED,
        )
        .order_by(Case.id.desc())
        .limit(1)
    )
    return db.scalar(query)


def _triage_columns(assessment: Assessment | None) -> dict:
    if assessment is None:
        return {}
    return {
        "sentiment": assessment.sentiment,
        "reach": assessment.reach,
        "priority": assessment.priority,
        "department": assessment.department,
        "department_confidence": round(assessment.department_confidence, 3),
        "risks": sorted(assessment.risks),
        "needs_reply": assessment.needs_reply,
        "crisis_signal": assessment.crisis_signal,
        "reasons": list(assessment.reasons)[:10],
    }


def _existing_id(db: Session, mention: NewMention) -> int:
    query = select(Mention.id).where(
        Mention.source == mention.source, Mention.external_id == mention.external_id
    )
    return db.scalar(query)


def _columns(mention: NewMention, now: datetime) -> dict:
    author = mention.author
    return {
        "source": mention.source.value,
        "external_id": mention.external_id,
        "url": str(mention.url) if mention.url else None,
        "author_handle": author.handle.removeprefix("@"),
        "author_display_name": author.display_name,
        "author_followers": author.followers,
        "author_verified": author.verified,
        "text": mention.text,
        "lang": mention.lang,
        "conversation_id": mention.conversation_id,
        "in_reply_to": mention.in_reply_to,
        "posted_at": min(mention.created_at, now + timedelta(minutes=5)),
        "received_at": now,
    }
