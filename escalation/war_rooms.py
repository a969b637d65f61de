"""A crisis's war room: its setup, recorded step by step, and the cadence of its updates.

The setup (create the channel, invite, post and pin the brief, set the topic) talks to Slack, so
the bot layer runs it; this module records each step as soon as it is done, so that a setup
interrupted half-way is continued, never repeated: the channel is stored the moment it exists.
Whoever runs a setup holds it for a lease (`declare` gives the first one to the declaring
replica); `claim_setups` hands the ones whose lease ran out to a replica's ticker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escalation.crises import Cadence, Crisis, CrisisStatus, audit, load

MAX_SETUP_ATTEMPTS = 5


def war_room_created(
    *, db: Session, crisis_id: int, channel_id: str, channel_name: str, now: datetime
) -> Crisis:
    """The channel exists: recorded at once, so that a retried setup never creates another."""
    crisis = load(db, crisis_id)
    crisis.channel_id, crisis.channel_name = channel_id, channel_name
    audit(db, crisis, "war_room_created", None, now, {"channel": channel_id, "name": channel_name})
    return crisis


def brief_posted(*, db: Session, crisis_id: int, ts: str) -> Crisis:
    crisis = load(db, crisis_id)
    crisis.brief_ts = ts
    return crisis


def war_room_ready(*, db: Session, crisis_id: int, invited: list[str], now: datetime) -> Crisis:
    crisis = load(db, crisis_id)
    crisis.ready_at, crisis.setup_due_at, crisis.setup_error = now, None, None
    audit(db, crisis, "war_room_ready", None, now, {"invited": invited})
    return crisis


def setup_failed(*, db: Session, crisis_id: int, error: str, now: datetime) -> Crisis:
    """A setup step failed; the setup is taken up again when its lease runs out."""
    crisis = load(db, crisis_id)
    crisis.setup_error = error[:255]
    audit(db, crisis, "setup_failed", None, now, {"error": crisis.setup_error})
    return crisis


def claim_setups(*, db: Session, now: datetime, lease: timedelta, limit: int = 5) -> list[int]:
    """War rooms whose setup stopped half-way and whose lease ran out, claimed for `lease`:
    row locks (skipping locked rows on PostgreSQL) let one replica take each."""
    query = (
        select(Crisis)
        .where(
            Crisis.status == CrisisStatus.OPEN,
            Crisis.ready_at.is_(None),
            Crisis.setup_due_at <= now,
            Crisis.setup_attempts < MAX_SETUP_ATTEMPTS,
        )
        .order_by(Crisis.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for crisis in db.scalars(query):
        crisis.setup_due_at, crisis.setup_attempts = now + lease, crisis.setup_attempts + 1
        claimed.append(crisis.id)
    return claimed


# --- the cadence ---------------------------------------------------------------------------------


def claim_reminders(*, db: Session, cadence: Cadence, now: datetime) -> list[Crisis]:
    """Open crises whose war room owes an update, each claimed once: its next reminder moves
    on by its cadence in the same transaction (row locks, skipping locked rows on PostgreSQL),
    so however many replicas tick, one of them reminds."""
    query = (
        select(Crisis)
        .where(
            Crisis.status == CrisisStatus.OPEN,
            Crisis.ready_at.is_not(None),
            Crisis.next_reminder_at <= now,
        )
        .order_by(Crisis.next_reminder_at)
        .with_for_update(skip_locked=True)
    )
    due = list(db.scalars(query))
    for crisis in due:
        crisis.next_reminder_at = now + cadence[crisis.severity]
        silent = now - (crisis.last_update_at or crisis.declared_at)
        audit(db, crisis, "reminded", None, now, {"silent_seconds": int(silent.total_seconds())})
    return due


def reminder_failed(*, db: Session, crisis_id: int, retry_at: datetime) -> None:
    """Slack refused the reminder: it is due again at `retry_at` (unless sooner anyway)."""
    crisis = load(db, crisis_id)
    if crisis.is_open and crisis.next_reminder_at and crisis.next_reminder_at > retry_at:
        crisis.next_reminder_at = retry_at
