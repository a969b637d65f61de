"""Crises: the rapid-action team declares one, runs it from a war-room channel, and closes it.

Services are keyword-only, never commit and take `now`. Only the rapid-action team (`team`: the
Slack ids the caller resolved from the organisation file) may declare, assign roles, update,
close and archive; anyone in the organisation file may link a case. Every step is audited in
`crisis_events`. The war room's setup and update cadence are in escalation/war_rooms.py, the
status listing and closing timeline in escalation/crisis_report.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from escalation.errors import InvalidTransition, NotAllowed, NotFound
from escalation.models import Base, Case, Mention
from escalation.people import Actor, person

TITLE_LENGTH = 150
SLUG_LENGTH = 40


class Severity(StrEnum):
    SEV1 = "SEV1"  # the highest: safety, a data breach, national press, a mass outage
    SEV2 = "SEV2"
    SEV3 = "SEV3"


class CrisisRoleName(StrEnum):
    LEAD = "lead"
    COMMS = "comms"
    SCRIBE = "scribe"


class CrisisStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


Cadence = Mapping[str, timedelta]  # severity -> how often the war room owes an update


class Crisis(Base):
    """A declared crisis, its war room and where its setup and cadence stand."""

    __tablename__ = "crises"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    severity: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=CrisisStatus.OPEN, index=True)
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime]
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    brief_ts: Mapped[str | None] = mapped_column(String(32))
    ready_at: Mapped[datetime | None]  # the war room is set up: invited, briefed, pinned, topic
    setup_due_at: Mapped[datetime | None]  # who sets it up holds it until then
    setup_attempts: Mapped[int] = mapped_column(default=0)
    setup_error: Mapped[str | None] = mapped_column(String(255))
    last_update_at: Mapped[datetime | None]
    next_reminder_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)  # the closer's own words
    closing_summary: Mapped[str | None] = mapped_column(Text)
    summary_origin: Mapped[str | None] = mapped_column(String(128))  # "plain" or "llm (model)"
    archived_at: Mapped[datetime | None]

    roles: Mapped[list[CrisisRole]] = relationship(order_by="CrisisRole.id")
    links: Mapped[list[CrisisCase]] = relationship(order_by="CrisisCase.id")
    updates: Mapped[list[CrisisUpdate]] = relationship(order_by="CrisisUpdate.id")

    @property
    def is_open(self) -> bool:
        return self.status == CrisisStatus.OPEN

    def holder(self, role: CrisisRoleName) -> str | None:
        return next((r.person for r in self.roles if r.role == role), None)


class CrisisRole(Base):
    """Who holds a role in a crisis; assigning it again hands it to someone else."""

    __tablename__ = "crisis_roles"
    __table_args__ = (UniqueConstraint("crisis_id", "role", name="uq_crisis_roles_crisis_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id"))
    role: Mapped[str] = mapped_column(String(16))
    person: Mapped[str] = mapped_column(String(32))
    assigned_by: Mapped[str] = mapped_column(String(32))
    assigned_at: Mapped[datetime]


class CrisisUpdate(Base):
    """A structured update: how things stand, what is being done, what the team needs."""

    __tablename__ = "crisis_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id"), index=True)
    conditions: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    needs: Mapped[str | None] = mapped_column(Text)
    posted_by: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]


class CrisisCase(Base):
    """A case that belongs to a crisis (once per crisis)."""

    __tablename__ = "crisis_cases"
    __table_args__ = (UniqueConstraint("crisis_id", "case_id", name="uq_crisis_cases_crisis_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    linked_by: Mapped[str] = mapped_column(String(32))
    linked_at: Mapped[datetime]

    case: Mapped[Case] = relationship()


class CrisisEvent(Base):
    """The audit trail of a crisis: who did what, when."""

    __tablename__ = "crisis_events"
    __table_args__ = (Index("ix_crisis_events_crisis_at", "crisis_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(32))  # None: the bot
    action: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict | None] = mapped_column(JSON)


# --- who may ------------------------------------------------------------------------------------


def team_refusal(verb: str, actor: Actor, team: Collection[str]) -> str | None:
    """None when `actor` is on the rapid-action team; else a polite sentence naming who is."""
    if actor.id in team:
        return None
    names = ", ".join(person(p) for p in sorted(team)[:6]) or "a manager"
    return f"Sorry, only the rapid-action team can {verb}. Ask {names}."


def _require_team(verb: str, actor: Actor, team: Collection[str]) -> None:
    if reason := team_refusal(verb, actor, team):
        raise NotAllowed(reason)


# --- declaring and the war room -----------------------------------------------------------------


def slugify(title: str) -> str:
    """'Leeds outage: fibre cut!' -> 'leeds-outage-fibre-cut' (ASCII, for a channel name)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:SLUG_LENGTH].rstrip("-") or "crisis"


def declare(
    *,
    db: Session,
    title: str,
    severity: Severity,
    summary: str,
    case_ids: Iterable[int],
    actor: Actor,
    team: Collection[str],
    cadence: Cadence,
    setup_lease: timedelta,
    now: datetime,
    surge_alert_id: int | None = None,
) -> Crisis:
    """Declare a crisis; the caller then sets up its war room, which it holds for
    `setup_lease` (after that, another replica's ticker continues the setup)."""
    _require_team("declare a crisis", actor, team)
    title = " ".join(title.split())[:TITLE_LENGTH]
    if not title:
        raise InvalidTransition("Give the crisis a title.")
    cases = find_cases(db, case_ids)
    crisis = Crisis(
        title=title,
        slug=slugify(title),
        severity=Severity(severity).value,
        summary=summary.strip(),
        status=CrisisStatus.OPEN,
        declared_by=actor.id,
        declared_at=now,
        setup_due_at=now + setup_lease,
        setup_attempts=1,
        next_reminder_at=now + cadence[severity],
    )
    db.add(crisis)
    db.flush()
    for case in cases:
        db.add(CrisisCase(crisis_id=crisis.id, case_id=case.id, linked_by=actor.id, linked_at=now))
    data = {"severity": crisis.severity, "cases": [c.id for c in cases]}
    if surge_alert_id is not None:
        data["surge_alert"] = surge_alert_id
    audit(db, crisis, "declared", actor.id, now, data)
    return crisis


def find_cases(db: Session, case_ids: Iterable[int]) -> list[Case]:
    """The cases, in the order given (each once); NotFound names the numbers that do not exist."""
    wanted = list(dict.fromkeys(case_ids))
    found = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_(wanted)))}
    if missing := [str(n) for n in wanted if n not in found]:
        raise NotFound(f"There is no case {', '.join(missing)}.")
    return [found[n] for n in wanted]


# --- running it ---------------------------------------------------------------------------------


def assign_role(
    *,
    db: Session,
    crisis_id: int,
    role: CrisisRoleName,
    person_id: str,
    actor: Actor,
    team: Collection[str],
    now: datetime,
) -> CrisisRole:
    """Give `role` to `person_id` (taking it from whoever held it)."""
    _require_team("assign crisis roles", actor, team)
    crisis = _open(db, crisis_id)
    held = next((r for r in crisis.roles if r.role == role), None)
    previous = held.person if held else None
    if held is None:
        held = CrisisRole(crisis_id=crisis.id, role=role.value)
        crisis.roles.append(held)
    held.person, held.assigned_by, held.assigned_at = person_id, actor.id, now
    data = {"role": role.value, "person": person_id, "previous": previous}
    audit(db, crisis, "role_assigned", actor.id, now, data)
    return held


def link_case(
    *,
    db: Session,
    crisis_id: int,
    case_id: int,
    actor: Actor,
    team: Collection[str],
    now: datetime,
) -> CrisisCase:
    """Attach a case to the crisis: anyone in the organisation file may."""
    if not actor.known and actor.id not in team:
        raise NotAllowed("You are not in the bot's organisation file yet; ask a manager.")
    crisis = _open(db, crisis_id)
    (case,) = find_cases(db, [case_id])
    if any(link.case_id == case.id for link in crisis.links):
        raise InvalidTransition(f"Case {case.id} is linked to this crisis already.")
    link = CrisisCase(crisis_id=crisis.id, case_id=case.id, linked_by=actor.id, linked_at=now)
    crisis.links.append(link)
    audit(db, crisis, "case_linked", actor.id, now, {"case": case.id})
    return link


def post_update(
    *,
    db: Session,
    crisis_id: int,
    conditions: str,
    actions: str,
    needs: str | None,
    actor: Actor,
    team: Collection[str],
    cadence: Cadence,
    now: datetime,
) -> CrisisUpdate:
    """A structured update; the cadence starts again from now."""
    _require_team("post crisis updates", actor, team)
    crisis = _open(db, crisis_id)
    update = CrisisUpdate(
        crisis_id=crisis.id,
        conditions=conditions.strip(),
        actions=actions.strip(),
        needs=(needs or "").strip() or None,
        posted_by=actor.id,
        posted_at=now,
    )
    crisis.updates.append(update)
    crisis.last_update_at = now
    crisis.next_reminder_at = now + cadence[crisis.severity]
    db.flush()
    audit(db, crisis, "update_posted", actor.id, now, {"update": update.id})
    return update


def close(
    *,
    db: Session,
    crisis_id: int,
    outcome: str | None,
    actor: Actor,
    team: Collection[str],
    now: datetime,
) -> Crisis:
    """Close the crisis: no more reminders; its closing summary follows."""
    _require_team("close a crisis", actor, team)
    crisis = _open(db, crisis_id)
    crisis.status, crisis.closed_by, crisis.closed_at = CrisisStatus.CLOSED, actor.id, now
    crisis.outcome = (outcome or "").strip() or None
    crisis.next_reminder_at = None
    audit(db, crisis, "closed", actor.id, now, {"outcome": crisis.outcome})
    return crisis


def record_summary(*, db: Session, crisis_id: int, text: str, origin: str, now: datetime) -> Crisis:
    """Keep the closing summary, before it is posted, and where it came from (an LLM or the
    plain one)."""
    crisis = load(db, crisis_id)
    crisis.closing_summary, crisis.summary_origin = text, origin[:128]
    audit(db, crisis, "summary_written", None, now, {"origin": crisis.summary_origin})
    return crisis


def archive(
    *, db: Session, crisis_id: int, actor: Actor, team: Collection[str], now: datetime
) -> Crisis:
    """Record that the war room is archived (only once the crisis is closed)."""
    _require_team("archive a war room", actor, team)
    crisis = load(db, crisis_id)
    if crisis.is_open:
        raise InvalidTransition("Close the crisis first: `close` posts its summary.")
    if crisis.archived_at is not None:
        raise InvalidTransition("This war room is archived already.")
    crisis.archived_at = now
    audit(db, crisis, "archived", actor.id, now, {"channel": crisis.channel_id})
    return crisis


# --- finding crises -----------------------------------------------------------------------------


def load(db: Session, crisis_id: int) -> Crisis:
    """The crisis, locked for this transaction (FOR UPDATE on PostgreSQL) and read afresh
    under the lock (see escalation.cases.load_case)."""
    locked = select(Crisis).where(Crisis.id == crisis_id).with_for_update()
    crisis = db.scalar(locked.execution_options(populate_existing=True))
    if crisis is None:
        raise NotFound("That crisis no longer exists.")
    return crisis


def _open(db: Session, crisis_id: int) -> Crisis:
    crisis = load(db, crisis_id)
    if not crisis.is_open:
        raise InvalidTransition(f"“{crisis.title}” is closed.")
    return crisis


def case_at(
    db: Session, *, channel_id: str | None = None, ts: str | None = None, url: str | None = None
) -> int:
    """The case whose triage card is the message (`channel_id`, `ts`), or whose post is at
    `url`; NotFound with a sentence otherwise."""
    if channel_id and ts:
        query = select(Case.id).where(Case.triage_channel == channel_id, Case.triage_ts == ts)
    else:
        query = select(Mention.case_id).where(Mention.url == url, Mention.case_id.is_not(None))
    found = db.scalars(query.limit(1)).first()
    if found is None:
        raise NotFound("That is not a case: give a case number, a triage card's link or a post's.")
    return found


def cases_of(db: Session, mention_ids: Iterable[int]) -> list[int]:
    """The cases the mentions belong to (a surge's samples), each once, in the mentions' order."""
    ids = list(mention_ids)
    found = dict(db.execute(select(Mention.id, Mention.case_id).where(Mention.id.in_(ids))).all())
    return list(dict.fromkeys(found[m] for m in ids if found.get(m) is not None))


def open_crises(db: Session) -> list[Crisis]:
    query = select(Crisis).where(Crisis.status == CrisisStatus.OPEN).order_by(Crisis.id)
    return list(db.scalars(query))


def crisis_for(db: Session, channel_id: str | None) -> Crisis:
    """The crisis a command is about: the war room's own, else the one open crisis; otherwise
    a sentence saying how to choose."""
    if channel_id:
        here = db.scalar(select(Crisis).where(Crisis.channel_id == channel_id))
        if here is not None:
            return here
    crises = open_crises(db)
    if len(crises) == 1:
        return crises[0]
    if not crises:
        raise NotFound("No crisis is open. `declare` one first.")
    rooms = ", ".join(f"<#{c.channel_id}>" if c.channel_id else f"“{c.title}”" for c in crises)
    raise InvalidTransition(
        f"{len(crises)} crises are open: run the command in the war room of the one you mean"
        f" ({rooms})."
    )


def audit(db: Session, crisis: Crisis, action: str, actor: str | None, now, data=None) -> None:
    """One line of the crisis's audit trail."""
    db.add(CrisisEvent(crisis_id=crisis.id, at=now, actor=actor, action=action, data=data))
