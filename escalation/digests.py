"""The managers' daily digest: when it is due, which window it covers, queueing it once.

A digest is an outbox job whose dedupe key names the manager and their local date, so
however many replicas find it due, one job is queued. It covers the 24 hours before the
scheduled moment (from `at` on the day before to `at` on the day), so that each case opened
falls in exactly one digest, and a digest sent late covers the same window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from escalation.crises import Crisis
from escalation.kpis import Window, cohort, median
from escalation.models import Case, Outbox, OutboxKind
from escalation.store import insert_ignoring_conflict

PERIODS = ("today", "yesterday", "7d")


@dataclass(frozen=True)
class DigestSchedule:
    """A manager's digest: at `at` local time in `timezone`, for `departments` (None: all)."""

    slack_id: str
    at: time
    timezone: str
    departments: tuple[str, ...] | None = None

    def due_day(self, now: datetime) -> date | None:
        """The local date whose digest is due at `now` (from `at` to midnight), else None."""
        local = now.astimezone(ZoneInfo(self.timezone))
        return local.date() if local.time() >= self.at else None

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The 24 hours (23 or 25 when the clocks change) that end at `at` on `day`."""
        zone = ZoneInfo(self.timezone)
        end = datetime.combine(day, self.at, zone).astimezone(UTC)
        start = datetime.combine(day - timedelta(days=1), self.at, zone).astimezone(UTC)
        return start, end

    def key(self, day: date) -> str:
        return f"digest:{self.slack_id}:{day.isoformat()}"


def period_window(period: str, timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of `/social digest [period]`: today so far, yesterday (local days), the
    last 7 days, or by default the last 24 hours."""
    zone = ZoneInfo(timezone)
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), zone).astimezone(UTC)
    if period == "today":
        return midnight, max(now, midnight + timedelta(seconds=1))
    if period == "yesterday":
        day = now.astimezone(zone).date() - timedelta(days=1)
        return datetime.combine(day, time(0), zone).astimezone(UTC), midnight
    return now - timedelta(days=7 if period == "7d" else 1), now


def queue_digest(
    *, db: Session, schedule: DigestSchedule, day: date, now: datetime, payload: dict, hold
) -> int | None:
    """Queue the digest of `day`, held back by `hold` (while its chart is made); the job's id,
    or None when another replica queued it first."""
    values = {
        "dedupe_key": schedule.key(day),
        "kind": OutboxKind.DIGEST,
        "channel": f"dm:{schedule.slack_id}",
        "payload": payload,
        "status": "pending",
        "due_at": now + hold,
        "created_at": now,
        "attempts": 0,
        "in_flight": False,
    }
    return insert_ignoring_conflict(db, Outbox, values, keys=["dedupe_key"], returning=Outbox.id)


def already_queued(db: Session, schedule: DigestSchedule, day: date) -> bool:
    return db.scalar(select(Outbox.id).where(Outbox.dedupe_key == schedule.key(day))) is not None


def release(*, db: Session, job_id: int, now: datetime, extra: dict) -> None:
    """Let a held digest go now, with what was made for it (its chart, its themes)."""
    job = db.get_one(Outbox, job_id)
    job.payload = {**job.payload, **extra}
    db.execute(
        update(Outbox).where(Outbox.id == job_id, Outbox.status == "pending").values(due_at=now)
    )


@dataclass(frozen=True)
class DayPoint:
    """One local day of the chart: cases opened, and their median first reply in seconds."""

    day: date
    cases: int
    first_reply_median: float | None


def daily_points(
    db: Session, *, last_day: date, days: int, timezone: str, departments=None
) -> list[DayPoint]:
    """Cases opened on each of the `days` local days up to `last_day`, and how fast they got
    their first public reply."""
    zone = ZoneInfo(timezone)
    first = last_day - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    window = Window(start, end, frozenset(departments) if departments else None)
    cases: dict[date, int] = {}
    replies: dict[date, list[float]] = {}
    for created, replied in db.execute(cohort(window, Case.created_at, Case.first_reply_at)):
        day = created.astimezone(zone).date()
        cases[day] = cases.get(day, 0) + 1
        if replied is not None:
            replies.setdefault(day, []).append((replied - created).total_seconds())
    every = [first + timedelta(days=n) for n in range(days)]
    return [DayPoint(d, cases.get(d, 0), median(replies.get(d, []))) for d in every]


def crises_between(db: Session, start: datetime, end: datetime) -> list[Crisis]:
    """Crises under way at some moment of [start, end): declared before its end, and open or
    closed after its start."""
    query = (
        select(Crisis)
        .where(Crisis.declared_at < end, or_(Crisis.closed_at.is_(None), Crisis.closed_at >= start))
        .order_by(Crisis.declared_at)
    )
    return list(db.scalars(query))
