"""Response targets, their deadlines and the reminder ladder, as rows the services keep.

A deadline starts when a case opens (first public reply) or is escalated (the department's
acknowledgement). Its reminders are planned as rows at once; each replica's ticker sends the
due ones, taking each with a row lock (SKIP LOCKED on PostgreSQL) and queueing its message in
the same transaction, so a reminder goes out exactly once however many replicas run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escalation.calendars import ALWAYS, WorkingHours
from escalation.deadlines import DeadlineKind, clock, due_at, moment_at
from escalation.models import Case, Deadline, DeadlineStatus, Escalation, Nag, NagStatus

PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Targets:
    first_reply: timedelta | None = None
    acknowledge: timedelta | None = None
    resolve: timedelta | None = None
    around_the_clock: bool = False


@dataclass(frozen=True)
class Override:
    priority: str
    department: str | None
    source: str | None
    targets: Targets


@dataclass(frozen=True)
class Ladder:
    """When reminders go out: fractions of the target, then repeats after the breach."""

    unclaimed_after: timedelta = timedelta(minutes=5)
    owner_at: float = 0.5
    lead_at: float = 0.8
    repeat_every: timedelta = timedelta(minutes=30)
    repeat_cap: int = 3
    snooze: timedelta = timedelta(minutes=15)
    snooze_limit: int = 2


@dataclass(frozen=True)
class Policies:
    targets: dict[str, Targets]
    calendars: dict[str, WorkingHours] = field(default_factory=dict)
    department_calendars: dict[str, str] = field(default_factory=dict)
    triage_department: str | None = None  # its calendar counts first replies, its lead is told
    person_calendars: dict[str, str] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()
    ladder: Ladder = Ladder()

    def target(self, kind: DeadlineKind, priority: str, *, department=None, source=None):
        """The target for `kind`: the most specific override, else the priority's."""
        chosen = getattr(self.targets.get(priority, Targets()), kind.value)
        for rule in self.overrides:
            matches = rule.priority == priority and rule.department in (None, department)
            if matches and rule.source in (None, source):
                chosen = getattr(rule.targets, kind.value) or chosen
        return chosen

    def hours(self, department: str | None) -> WorkingHours:
        """The working hours a department's clock counts (the triage team's for None)."""
        key = self.department_calendars.get(department or self.triage_department or "")
        return self.calendars.get(key or "", ALWAYS)

    def person_hours(self, slack_id: str) -> WorkingHours:
        """When a person may be sent a reminder: their department's working hours."""
        return self.calendars.get(self.person_calendars.get(slack_id, ""), ALWAYS)

    def around_the_clock(self, priority: str) -> bool:
        return self.targets.get(priority, Targets()).around_the_clock


def start_first_reply(*, db: Session, case: Case, source: str, policies: Policies, now: datetime):
    """The first public reply is owed from when the mention arrived."""
    target = policies.target(DeadlineKind.FIRST_REPLY, case.priority, source=source)
    if target:
        _start(db, case, DeadlineKind.FIRST_REPLY, target, None, None, policies, now)


def start_acknowledge(*, db: Session, escalation: Escalation, policies: Policies, now: datetime):
    """A department owes an acknowledgement from when the escalation reached it."""
    case, dept = escalation.case, escalation.department
    target = policies.target(DeadlineKind.ACKNOWLEDGE, case.priority, department=dept)
    if target:
        _start(db, case, DeadlineKind.ACKNOWLEDGE, target, escalation, dept, policies, now)


def _start(db, case, kind, target, escalation, department, policies, now) -> Deadline:
    around = policies.around_the_clock(case.priority)
    hours = policies.hours(department)
    deadline = Deadline(
        case_id=case.id,
        escalation_id=escalation.id if escalation else None,
        kind=kind.value,
        department=department,
        started_at=now,
        target_seconds=target.total_seconds(),
        around_the_clock=around,
        pauses=[],
        status=DeadlineStatus.RUNNING,
        due_at=due_at(now, target, hours, around_the_clock=around),
    )
    case.deadlines.append(deadline)
    db.add(deadline)
    db.flush()
    for step, moment in plan(deadline, hours, policies.ladder).items():
        db.add(Nag(deadline_id=deadline.id, step=step, due_at=moment, status=NagStatus.PENDING))
    return deadline


def plan(deadline: Deadline, hours: WorkingHours, ladder: Ladder) -> dict[str, datetime]:
    """Each reminder step of a deadline and when it falls due, from its clock."""
    target = timedelta(seconds=deadline.target_seconds)
    pauses = _pauses(deadline)
    at = {"hours": hours, "around_the_clock": deadline.around_the_clock, "pauses": pauses}
    steps = {}
    if deadline.kind == DeadlineKind.FIRST_REPLY and ladder.unclaimed_after < target:
        steps["unclaimed"] = due_at(deadline.started_at, ladder.unclaimed_after, **at)
    steps["half"] = moment_at(deadline.started_at, target, ladder.owner_at, **at)
    steps["at_risk"] = moment_at(deadline.started_at, target, ladder.lead_at, **at)
    steps["breach"] = due_at(deadline.started_at, target, **at)
    for n in range(1, ladder.repeat_cap + 1):
        steps[f"repeat-{n}"] = steps["breach"] + ladder.repeat_every * n
    return steps


def _pauses(deadline: Deadline) -> tuple[tuple[datetime, datetime | None], ...]:
    return tuple(
        (datetime.fromisoformat(low), datetime.fromisoformat(high) if high else None)
        for low, high in deadline.pauses or []
    )


def settle(*, case: Case, kind: DeadlineKind, met: bool, now: datetime, escalation_id=None) -> None:
    """The deadline is met (or no longer owed): its reminders stop."""
    deadline = case.deadline(kind.value, escalation_id)
    if deadline is None or deadline.status in (DeadlineStatus.MET, DeadlineStatus.CANCELLED):
        return
    deadline.status = DeadlineStatus.MET if met else DeadlineStatus.CANCELLED
    deadline.met_at = now if met else None
    for nag in deadline.nags:
        if nag.status == NagStatus.PENDING:
            nag.status = NagStatus.CANCELLED


def settle_all(*, case: Case, now: datetime, replied: bool) -> None:
    """A resolved case owes nothing more."""
    for deadline in case.deadlines:
        met = replied and deadline.kind == DeadlineKind.FIRST_REPLY
        kind = DeadlineKind(deadline.kind)
        settle(case=case, kind=kind, met=met, now=now, escalation_id=deadline.escalation_id)


def pause(*, case: Case, now: datetime) -> None:
    """Waiting on the customer stops the clocks, except P1's."""
    for deadline in case.deadlines:
        if deadline.status == DeadlineStatus.RUNNING and not deadline.around_the_clock:
            deadline.pauses = [*deadline.pauses, [now.isoformat(), None]]
            deadline.status = DeadlineStatus.PAUSED


def resume(*, case: Case, now: datetime, policies: Policies) -> None:
    """The customer answered: paused clocks run again and their reminders move later."""
    for deadline in case.deadlines:
        if deadline.status != DeadlineStatus.PAUSED:
            continue
        *closed, last = deadline.pauses
        deadline.pauses = [*closed, [last[0], now.isoformat()]]
        deadline.status = DeadlineStatus.RUNNING
        hours = policies.hours(deadline.department)
        moments = plan(deadline, hours, policies.ladder)
        deadline.due_at = moments["breach"]
        for nag in deadline.nags:
            if nag.status == NagStatus.PENDING and nag.step in moments:
                nag.due_at = moments[nag.step]


def clock_of(deadline: Deadline, policies: Policies, now: datetime):
    """Where a deadline's clock stands at `now`."""
    return clock(
        deadline.started_at,
        timedelta(seconds=deadline.target_seconds),
        policies.hours(deadline.department),
        now,
        around_the_clock=deadline.around_the_clock,
        pauses=_pauses(deadline),
    )


def due_nags(db: Session, now: datetime, limit: int = 100) -> list[Nag]:
    """Reminders due now, locked for this transaction; other replicas skip them."""
    query = (
        select(Nag)
        .where(Nag.status == NagStatus.PENDING, Nag.due_at <= now)
        .order_by(Nag.due_at, Nag.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(query))
