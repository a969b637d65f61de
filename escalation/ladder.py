"""The reminder ladder: who is reminded at each step, and where; run by each replica's ticker.

unclaimed  a line in the case's thread: nobody has it yet
half       the owner by direct message (the triage lead in the thread if nobody owns it)
at_risk    a line naming the owner and the lead; the card says "at risk"
breach     the lead and the managers by direct message; the card says "breached"
repeat-n   the lead and the managers again, every interval, up to a cap

For an escalation not yet acknowledged the same ladder runs on the department's card. Direct
messages wait for the person's working hours, except for P1. Nothing goes out once the
deadline is met or the case resolved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from escalation.cases import queue_update
from escalation.deadlines import DeadlineKind
from escalation.errors import DomainError, NotAllowed
from escalation.models import (
    Deadline,
    DeadlineStatus,
    Nag,
    NagStatus,
    Outbox,
    OutboxKind,
)
from escalation.people import Directory, Role, person
from escalation.sla import due_nags

REDRAW = {
    DeadlineKind.FIRST_REPLY: OutboxKind.TRIAGE_UPDATE,
    DeadlineKind.ACKNOWLEDGE: OutboxKind.DEPARTMENT_UPDATE,
}


def send_due_nags(*, db, org: Directory, now: datetime) -> int:
    """Decide every due reminder once; returns how many were sent."""
    sent = 0
    for nag in due_nags(db, now):
        if _still_owed(nag):
            _send(db, nag, org, now)
            sent += 1
        elif nag.deadline.status == DeadlineStatus.PAUSED:
            nag.due_at = now + timedelta(hours=1)  # resuming the clock reschedules it
        else:
            nag.status = NagStatus.CANCELLED
    return sent


def _still_owed(nag: Nag) -> bool:
    deadline, case = nag.deadline, nag.deadline.case
    if deadline.status != DeadlineStatus.RUNNING or case.status == "resolved":
        return False
    if nag.step == "unclaimed" and case.owner_id:
        return False
    escalation = _escalation(deadline)
    return escalation is None or escalation.status == "open"


def _send(db, nag: Nag, org: Directory, now: datetime) -> None:
    nag.status, nag.sent_at = NagStatus.SENT, now
    deadline = nag.deadline
    for where, recipient, due in _deliveries(nag, org, now):
        channel = f"dm:{recipient}" if where == "dm" else _channel(deadline, org)
        db.add(
            Outbox(
                dedupe_key=f"nag:{nag.id}:{where}:{recipient or ''}",
                kind=OutboxKind.NAG,
                channel=channel,
                case_id=deadline.case_id,
                nag_id=nag.id,
                escalation_id=deadline.escalation_id,
                due_at=due,
                created_at=now,
                payload={"to": where, "user": recipient},
            )
        )
    mark = {"at_risk": "at_risk", "breach": "breached"}.get(nag.step)
    if mark:
        deadline.state = mark
        deadline.breached_at = now if mark == "breached" else deadline.breached_at
        queue_update(
            db,
            REDRAW[DeadlineKind(deadline.kind)],
            now,
            case=deadline.case,
            escalation=_escalation(deadline),
        )


def _deliveries(nag: Nag, org: Directory, now: datetime) -> list[tuple[str, str | None, datetime]]:
    """(where, recipient, when) for each message of this step: the thread, or a person."""
    deadline, case = nag.deadline, nag.deadline.case
    step = nag.step.split("/")[0]
    if nag.recipient:  # a snoozed reminder: back to the one person who snoozed it
        people = [nag.recipient]
    elif step in ("unclaimed", "at_risk") or (step == "half" and _is_escalation(deadline)):
        return [("thread", None, now)]
    elif step == "half":
        if not case.owner_id:
            return [("thread", None, now)]
        people = [case.owner_id]
    else:
        people = [*_leads(deadline, org), *org.with_role(Role.MANAGER)]
    return [
        ("dm", person, _when_working(person, deadline, org, now))
        for person in dict.fromkeys(people)
    ]


def _when_working(person: str, deadline: Deadline, org: Directory, now: datetime) -> datetime:
    if deadline.around_the_clock or org.policies is None:
        return now
    return org.policies.person_hours(person).next_open(now)


def _leads(deadline: Deadline, org: Directory) -> list[str]:
    """The leads who answer for this deadline: the department it waits on, else triage's."""
    waiting = deadline.case.escalation
    department = deadline.department or (waiting.department if waiting else None)
    department = department or (org.policies.triage_department if org.policies else None)
    info = org.departments.get(department or "")
    return list(info.leads) if info else []


def _is_escalation(deadline: Deadline) -> bool:
    return deadline.kind == DeadlineKind.ACKNOWLEDGE


def _escalation(deadline: Deadline):
    case = deadline.case
    return next((e for e in case.escalations if e.id == deadline.escalation_id), None)


def _channel(deadline: Deadline, org: Directory) -> str:
    if deadline.department and _is_escalation(deadline):
        return org.department(deadline.department).channel
    return org.triage_channel


def snooze(*, db, nag_id: int, actor, org: Directory, now: datetime) -> Nag:
    """'Remind me later': the same reminder again after the snooze time, a limited number of
    times, only for the person it was sent to."""
    nag = db.get(Nag, nag_id)
    if nag is None or nag.status != NagStatus.SENT:
        raise DomainError("That reminder is no longer active.")
    if not _still_owed(nag):
        raise DomainError("Nothing to remind you of: the deadline is met or the case is closed.")
    sent_to = set(
        db.scalars(select(Outbox.payload["user"].as_string()).where(Outbox.nag_id == nag.id))
    )
    if actor.id not in sent_to:
        named = ", ".join(person(p) for p in sorted(filter(None, sent_to)))
        who = f" ({named})" if named else ""
        raise NotAllowed(f"Only the person this reminder was sent to{who} can snooze it.")
    ladder = org.policies.ladder
    base = nag.step.split("/")[0]
    count = nag.snoozes + 1
    if count > ladder.snooze_limit:
        raise DomainError(f"This reminder was snoozed {ladder.snooze_limit} times already.")
    later = Nag(
        deadline_id=nag.deadline_id,
        step=f"{base}/snooze-{actor.id}-{count}",
        due_at=now + ladder.snooze,
        status=NagStatus.PENDING,
        snoozes=count,
        recipient=actor.id,
    )
    db.add(later)
    db.flush()
    return later
