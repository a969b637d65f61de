"""What a crisis amounts to: the status listing of open crises, and the timeline at its close
(its cases with their first-reply times, its updates, and every action of its audit trail).

Both are plain values read in one session, so that they can be drawn or sent to an LLM after
the session is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escalation.crises import Crisis, CrisisEvent, open_crises
from escalation.errors import NotFound
from escalation.models import Case, Mention
from escalation.workflow import CaseStatus


@dataclass(frozen=True)
class CrisisState:
    """One open crisis as `status` lists it."""

    id: int
    title: str
    severity: str
    channel_id: str | None
    declared_at: datetime
    last_update_at: datetime | None
    volume: int
    cases: int
    open_cases: int
    roles: dict[str, str]
    setup_error: str | None
    ready: bool

    def silent_for(self, now: datetime) -> timedelta:
        """Time since the last update (since the declaration, before the first)."""
        return now - (self.last_update_at or self.declared_at)


def volume(db: Session, case_ids: Collection[int]) -> int:
    """Mentions in the cases: what the crisis has drawn so far."""
    if not case_ids:
        return 0
    return db.scalar(select(func.count(Mention.id)).where(Mention.case_id.in_(case_ids))) or 0


def state_of(db: Session, crisis: Crisis) -> CrisisState:
    cases = [link.case for link in crisis.links]
    return CrisisState(
        id=crisis.id,
        title=crisis.title,
        severity=crisis.severity,
        channel_id=crisis.channel_id,
        declared_at=crisis.declared_at,
        last_update_at=crisis.last_update_at,
        volume=volume(db, [c.id for c in cases]),
        cases=len(cases),
        open_cases=sum(c.status != CaseStatus.RESOLVED for c in cases),
        roles={r.role: r.person for r in crisis.roles},
        setup_error=crisis.setup_error,
        ready=crisis.ready_at is not None,
    )


def overview(db: Session) -> list[CrisisState]:
    """Every open crisis, oldest first."""
    return [state_of(db, crisis) for crisis in open_crises(db)]


@dataclass(frozen=True)
class TimelineCase:
    case_id: int
    priority: str
    status: str
    source: str
    handle: str
    text: str
    opened_at: datetime
    first_reply_at: datetime | None
    mentions: int

    @property
    def first_reply(self) -> timedelta | None:
        return self.first_reply_at - self.opened_at if self.first_reply_at else None


@dataclass(frozen=True)
class TimelineUpdate:
    at: datetime
    by: str
    conditions: str
    actions: str
    needs: str | None


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    actor: str | None
    action: str
    data: dict


@dataclass(frozen=True)
class Timeline:
    """A crisis from its declaration to its close."""

    id: int
    title: str
    severity: str
    summary: str
    declared_by: str
    declared_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    outcome: str | None
    roles: dict[str, str]
    cases: tuple[TimelineCase, ...]
    updates: tuple[TimelineUpdate, ...]
    events: tuple[TimelineEvent, ...]
    volume: int

    @property
    def duration(self) -> timedelta | None:
        return self.closed_at - self.declared_at if self.closed_at else None

    def as_data(self, name: Callable[[str | None], str]) -> dict:
        """The timeline as JSON-ready data, people by name (`name`), times in UTC ISO 8601."""
        return {
            "title": self.title,
            "severity": self.severity,
            "summary": self.summary,
            "declared": {"by": name(self.declared_by), "at": _iso(self.declared_at)},
            "closed": {"by": name(self.closed_by), "at": _iso(self.closed_at)},
            "outcome": self.outcome,
            "roles": {role: name(who) for role, who in self.roles.items()},
            "volume": self.volume,
            "cases": [_case_data(c) for c in self.cases],
            "updates": [
                {"at": _iso(u.at), "by": name(u.by), "conditions": u.conditions}
                | {"actions": u.actions, "needs": u.needs}
                for u in self.updates
            ],
            "actions": [
                {"at": _iso(e.at), "by": name(e.actor) if e.actor else "bot", "action": e.action}
                for e in self.events
            ],
        }


def timeline(db: Session, crisis_id: int) -> Timeline:
    crisis = db.get(Crisis, crisis_id)
    if crisis is None:
        raise NotFound("That crisis no longer exists.")
    cases = [link.case for link in crisis.links]
    events = db.scalars(
        select(CrisisEvent)
        .where(CrisisEvent.crisis_id == crisis.id)
        .order_by(CrisisEvent.at, CrisisEvent.id)
    )
    return Timeline(
        id=crisis.id,
        title=crisis.title,
        severity=crisis.severity,
        summary=crisis.summary,
        declared_by=crisis.declared_by,
        declared_at=crisis.declared_at,
        closed_by=crisis.closed_by,
        closed_at=crisis.closed_at,
        outcome=crisis.outcome,
        roles={r.role: r.person for r in crisis.roles},
        cases=tuple(_timeline_case(case) for case in cases),
        updates=tuple(
            TimelineUpdate(u.posted_at, u.posted_by, u.conditions, u.actions, u.needs)
            for u in crisis.updates
        ),
        events=tuple(TimelineEvent(e.at, e.actor, e.action, e.data or {}) for e in events),
        volume=volume(db, [c.id for c in cases]),
    )


def _timeline_case(case: Case) -> TimelineCase:
    mention = case.mention
    return TimelineCase(
        case_id=case.id,
        priority=case.priority,
        status=case.status,
        source=mention.source,
        handle=mention.author_handle,
        text=mention.text,
        opened_at=case.created_at,
        first_reply_at=case.first_reply_at,
        mentions=len(case.mentions),
    )


def _case_data(case: TimelineCase) -> dict:
    reply = case.first_reply
    return {
        "case": case.case_id,
        "priority": case.priority,
        "status": case.status,
        "source": case.source,
        "post": case.text,
        "mentions": case.mentions,
        "opened": _iso(case.opened_at),
        "first_reply_minutes": round(reply.total_seconds() / 60) if reply else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
