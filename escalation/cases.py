"""Case services: every change goes through `transition`, which checks who may act and the
status table, writes the audit event and queues what Slack must show (in the same transaction).

Services are keyword-only, never commit (the caller's unit of work does) and take `now`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from escalation import sla
from escalation.deadlines import DeadlineKind
from escalation.errors import AlreadyClaimed, InvalidTransition, NotAllowed, NotFound
from escalation.models import (
    Case,
    CaseEvent,
    Escalation,
    EscalationStatus,
    Mention,
    Outbox,
    OutboxKind,
    OutboxStatus,
)
from escalation.people import Actor, Directory, person
from escalation.permissions import refusal
from escalation.sla import Policies
from escalation.workflow import Action, CaseStatus, next_status

ADDED_PER_MESSAGE = 40  # later mentions shown in one thread message (bot/views/surge.py)


class Outcome(StrEnum):
    REPLIED_PUBLICLY = "replied_publicly"
    MOVED_TO_DM = "moved_to_dm"
    NO_REPLY_NEEDED = "no_reply_needed"
    SPAM = "spam"


def open_case(
    *,
    db: Session,
    mention_id: int,
    triage_channel: str,
    now: datetime,
    priority: str = "P3",
    source: str = "other",
    policies: Policies | None = None,
) -> Case:
    """A new mention opens a case: its card is queued, its first-reply clock starts."""
    case = Case(status=CaseStatus.NEW, priority=priority, created_at=now, updated_at=now)
    db.add(case)
    db.flush()
    db.execute(update(Mention).where(Mention.id == mention_id).values(case_id=case.id))
    _queue(db, OutboxKind.TRIAGE_CARD, triage_channel, now, case=case, key=f"card:{case.id}")
    if policies:
        sla.start_first_reply(db=db, case=case, source=source, policies=policies, now=now)
    return case


def join_case(
    *,
    db: Session,
    case_id: int,
    mention_id: int,
    priority: str,
    triage_channel: str,
    now: datetime,
    org: Directory | None = None,
) -> None:
    """A later mention of the same conversation joins its case: posted in the case's thread,
    counted on the card; a more urgent one raises the case's priority; a case waiting on the
    customer is taken off hold, since the customer has written again."""
    case = load_case(db, case_id)
    if org is not None and case.status == CaseStatus.WAITING_CUSTOMER:
        transition(db, case, Action.CUSTOMER_REPLIED, None, org, now)
        if org.policies:
            sla.resume(case=case, now=now, policies=org.policies)
    db.execute(update(Mention).where(Mention.id == mention_id).values(case_id=case.id))
    if priority < case.priority:  # "P1" < "P2": more urgent
        case.priority = priority
    case.updated_at = now
    _queue_added_mention(db, case, mention_id, triage_channel, now)
    queue_update(db, OutboxKind.TRIAGE_UPDATE, now, case=case)


def _queue_added_mention(db: Session, case: Case, mention_id: int, channel: str, now) -> None:
    """Post a later mention in the case's thread: with the others still waiting for their turn
    (one message shows up to ADDED_PER_MESSAGE), so a surge of mentions stays within Slack's
    posting rate. A message already being sent is never added to."""
    waiting = db.scalar(
        select(Outbox)
        .where(
            Outbox.kind == OutboxKind.MENTION_ADDED,
            Outbox.case_id == case.id,
            Outbox.status == OutboxStatus.PENDING,
            Outbox.in_flight.is_(False),
        )
        .order_by(Outbox.id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)  # the delivery worker may be drawing it
    )
    mentions = (waiting.payload or {}).get("mentions", []) if waiting else []
    if waiting is not None and 0 < len(mentions) < ADDED_PER_MESSAGE:
        waiting.payload = {"mentions": [*mentions, mention_id]}
        return
    key, payload = f"mention:{mention_id}", {"mentions": [mention_id]}
    _queue(
        db,
        OutboxKind.MENTION_ADDED,
        channel,
        now,
        case=case,
        key=key,
        mention_id=mention_id,
        payload=payload,
    )


def case_of(db: Session, mention_id: int) -> int:
    """The id of the case a mention belongs to."""
    return db.scalar(select(Mention.case_id).where(Mention.id == mention_id))


def load_case(db: Session, case_id: int) -> Case:
    """The case, locked for this transaction (FOR UPDATE on PostgreSQL), and read as it is
    once the lock is ours: populate_existing, or a copy this session loaded earlier (to check a
    permission, say) keeps the values from before another transaction's claim committed."""
    locked = select(Case).where(Case.id == case_id).with_for_update()
    case = db.scalar(locked.execution_options(populate_existing=True))
    if case is None:
        raise NotFound("That case no longer exists.")
    return case


def check_allowed(
    *,
    db: Session,
    case_id: int,
    action: Action,
    actor: Actor,
    org: Directory,
    escalation_id: int | None = None,
) -> Case:
    """The case, or NotAllowed now, before a person types into a modal for nothing."""
    case = db.get(Case, case_id)
    if case is None:
        raise NotFound("That case no longer exists.")
    escalation = case.escalation
    if escalation_id is not None and (escalation is None or escalation.id != escalation_id):
        raise InvalidTransition("This escalation is closed or was moved; see the newest card.")
    department = org.departments.get(escalation.department) if escalation_id else None
    if reason := refusal(action, actor, owner=case.owner_id, department=department, directory=org):
        raise NotAllowed(reason)
    return case


def claim(*, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime) -> Case:
    """Make `actor` the owner; atomic, so of many simultaneous clicks exactly one wins."""
    case = load_case(db, case_id)
    if case.owner_id and case.status != CaseStatus.RESOLVED:
        if case.owner_id == actor.id:
            raise AlreadyClaimed("You already own this case.")
        raise AlreadyClaimed(f"Claimed by {person(case.owner_id)} {ago(case.owner_since, now)}.")
    transition(db, case, Action.CLAIM, actor, org, now)
    case.owner_id, case.owner_since = actor.id, now
    return case


def release(*, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime) -> Case:
    case = load_case(db, case_id)
    transition(db, case, Action.RELEASE, actor, org, now, data={"owner": case.owner_id})
    case.owner_id = case.owner_since = None
    return case


def take_over(*, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime) -> Case:
    """Someone else becomes the owner; the previous owner is named in the history (notified)."""
    case = load_case(db, case_id)
    if case.owner_id == actor.id:
        raise AlreadyClaimed("You already own this case.")
    previous = case.owner_id
    transition(db, case, Action.TAKE_OVER, actor, org, now, data={"previous": previous})
    case.owner_id, case.owner_since = actor.id, now
    return case


def escalate(
    *,
    db: Session,
    case_id: int,
    department: str,
    question: str,
    note: str | None,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Escalation:
    """Ask `department` for input: an escalation card goes to its channel."""
    case = load_case(db, case_id)
    if department not in org.departments:
        raise NotFound(f"There is no department '{department}' in the organisation file.")
    if waiting := case.escalation:
        name = org.department(waiting.department).name
        raise InvalidTransition(f"This case is already waiting on {name}.")
    data = {"department": department}
    transition(db, case, Action.ESCALATE, actor, org, now, note=question, data=data)
    return _new_escalation(db, case, department, question, note, actor, org, now)


def _new_escalation(db, case, department, question, note, actor, org, now) -> Escalation:
    escalation = Escalation(
        case=case,
        department=department,
        question=question,
        note=note,
        requested_by=actor.id,
        requested_at=now,
    )
    db.add(escalation)
    db.flush()
    if org.policies:
        sla.start_acknowledge(db=db, escalation=escalation, policies=org.policies, now=now)
    channel = org.department(department).channel
    key = f"department-card:{escalation.id}"
    _queue(db, OutboxKind.DEPARTMENT_CARD, channel, now, case=case, escalation=escalation, key=key)
    return escalation


def acknowledge(
    *, db: Session, case_id: int, escalation_id: int, actor: Actor, org: Directory, now: datetime
) -> Escalation:
    """A member of the department takes the escalation; the triage owner is told."""
    case, escalation = _waiting(db, case_id, escalation_id)
    transition(db, case, Action.ACKNOWLEDGE, actor, org, now, escalation=escalation)
    escalation.status = EscalationStatus.ACKNOWLEDGED
    escalation.acknowledged_by, escalation.acknowledged_at = actor.id, now
    _acknowledgement_owed(case, escalation, met=True, now=now)
    return escalation


def answer(
    *,
    db: Session,
    case_id: int,
    escalation_id: int,
    text: str,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Escalation:
    """The department's input: posted in the triage thread, naming the owner."""
    case, escalation = _waiting(db, case_id, escalation_id)
    transition(db, case, Action.ANSWER, actor, org, now, note=text, escalation=escalation)
    escalation.status, escalation.answer = EscalationStatus.ANSWERED, text
    escalation.answered_by, escalation.answered_at = actor.id, now
    if escalation.acknowledged_at is None:  # answering is acknowledging too
        escalation.acknowledged_by, escalation.acknowledged_at = actor.id, now
    _acknowledgement_owed(case, escalation, met=True, now=now)
    return escalation


def send_back(
    *,
    db: Session,
    case_id: int,
    escalation_id: int,
    reason: str,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Escalation:
    """The department returns the case to triage with a reason."""
    case, escalation = _waiting(db, case_id, escalation_id)
    transition(db, case, Action.SEND_BACK, actor, org, now, note=reason, escalation=escalation)
    escalation.status, escalation.closed_note = EscalationStatus.SENT_BACK, reason
    _acknowledgement_owed(case, escalation, met=False, now=now)
    return escalation


def reassign(
    *,
    db: Session,
    case_id: int,
    escalation_id: int,
    department: str,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Escalation:
    """Move the escalation to another department, with the same question."""
    case, escalation = _waiting(db, case_id, escalation_id)
    if department not in org.departments or department == escalation.department:
        raise NotFound("Choose another department from the organisation file.")
    data = {"to": department}
    transition(db, case, Action.REASSIGN, actor, org, now, data=data, escalation=escalation)
    escalation.status = EscalationStatus.REASSIGNED
    escalation.closed_note = f"moved to {org.department(department).name}"
    _acknowledgement_owed(case, escalation, met=False, now=now)
    note = f"Moved from {org.department(escalation.department).name}"
    return _new_escalation(db, case, department, escalation.question, note, actor, org, now)


def resolve(
    *,
    db: Session,
    case_id: int,
    outcome: Outcome,
    link: str | None,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Case:
    case = load_case(db, case_id)
    waiting = case.escalation
    data = {"outcome": outcome.value, "link": link}
    transition(db, case, Action.RESOLVE, actor, org, now, data=data)
    case.resolution, case.resolution_link, case.resolved_at = outcome.value, link, now
    replied = outcome in (Outcome.REPLIED_PUBLICLY, Outcome.MOVED_TO_DM)
    if replied and case.first_reply_at is None:
        case.first_reply_at = now
    sla.settle_all(case=case, now=now, replied=replied)
    if waiting:  # the department no longer needs to act
        waiting.status = EscalationStatus.WITHDRAWN
        queue_update(db, OutboxKind.DEPARTMENT_UPDATE, now, case=case, escalation=waiting)
    return case


def reopen(*, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime) -> Case:
    case = load_case(db, case_id)
    transition(db, case, Action.REOPEN, actor, org, now, data={"owner": case.owner_id})
    case.resolution = case.resolution_link = case.resolved_at = None
    return case


def wait_for_customer(
    *, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime
) -> Case:
    """The ball is in the customer's court: the clocks stop (P1's keep running)."""
    case = load_case(db, case_id)
    transition(db, case, Action.WAIT_CUSTOMER, actor, org, now)
    sla.pause(case=case, now=now)
    return case


def customer_replied(
    *, db: Session, case_id: int, actor: Actor, org: Directory, now: datetime
) -> Case:
    """The customer is back (a person says so, or their next mention arrives): clocks resume."""
    case = load_case(db, case_id)
    transition(db, case, Action.CUSTOMER_REPLIED, actor, org, now)
    if org.policies:
        sla.resume(case=case, now=now, policies=org.policies)
    return case


def _acknowledgement_owed(case: Case, escalation: Escalation, *, met: bool, now: datetime):
    """The department's acknowledgement is in (met), or no longer owed (sent back, moved)."""
    sla.settle(
        case=case, kind=DeadlineKind.ACKNOWLEDGE, met=met, now=now, escalation_id=escalation.id
    )


def _waiting(db: Session, case_id: int, escalation_id: int) -> tuple[Case, Escalation]:
    """The case and the escalation a department card acts on, if it is still the open one."""
    case = load_case(db, case_id)
    if case.escalation is None or case.escalation.id != escalation_id:
        raise InvalidTransition("This escalation is closed or was moved; see the newest card.")
    return case, case.escalation


def transition(
    db: Session,
    case: Case,
    action: Action,
    actor: Actor | None,
    org: Directory,
    now: datetime,
    *,
    note: str | None = None,
    data: dict | None = None,
    escalation: Escalation | None = None,
) -> CaseEvent:
    """Check, move, audit, and queue the card redraws and one line of history.

    `actor` None is the bot acting on what happened outside Slack (the customer wrote again).
    """
    department = org.departments.get(escalation.department) if escalation else None
    if escalation is not None:  # the history names the department and tells the owner
        data = {"department": escalation.department, "owner": case.owner_id} | (data or {})
    reason = actor and refusal(
        action, actor, owner=case.owner_id, department=department, directory=org
    )
    if reason:
        raise NotAllowed(reason)
    before = case.status
    case.status = next_status(before, action, owner=case.owner_id, before_snooze=case.before_snooze)
    event = record(db, case, action, actor, org, now, note=note, data=data, before=before)
    if escalation is not None:
        queue_update(db, OutboxKind.DEPARTMENT_UPDATE, now, case=case, escalation=escalation)
    return event


def record(
    db: Session,
    case: Case,
    action: str,
    actor: Actor | None,
    org: Directory,
    now: datetime,
    *,
    note: str | None = None,
    data: dict | None = None,
    before: CaseStatus | None = None,
    history: bool = True,
) -> CaseEvent:
    """Audit what happened to a case (a move from `before`, or none), redraw its card and, if
    `history`, add one line to its thread."""
    case.updated_at = now
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor=actor.id if actor else None,
        action=str(action),
        from_status=before or case.status,
        to_status=case.status,
        note=note,
        data=data,
    )
    db.add(event)
    db.flush()
    if history:
        key = f"note:{event.id}"
        _queue(db, OutboxKind.THREAD_NOTE, org.triage_channel, now, case=case, event=event, key=key)
    queue_update(db, OutboxKind.TRIAGE_UPDATE, now, case=case)
    return event


def _queue(db: Session, kind: OutboxKind, channel: str, now: datetime, *, key: str, **refs) -> None:
    db.add(Outbox(dedupe_key=key, kind=kind, channel=channel, due_at=now, created_at=now, **refs))


def queue_update(
    db: Session,
    kind: OutboxKind,
    now: datetime,
    *,
    case: Case,
    escalation: Escalation | None = None,
) -> None:
    """Queue a redraw of a card unless one is already waiting: it will draw the newest state.

    A redraw edits a card where it is, so it names no channel of its own. The waiting redraw is
    locked (FOR UPDATE on PostgreSQL): a delivery worker taking it draws the card in that same
    moment, from the state before this change commits; waiting for its lock lets the row be seen
    as taken, and a new redraw is queued for this change.
    """
    pending = (
        select(Outbox.id)
        .with_for_update()
        .where(
            Outbox.kind == kind,
            Outbox.status == OutboxStatus.PENDING,
            Outbox.in_flight.is_(False),
            Outbox.case_id == case.id,
            Outbox.escalation_id == escalation.id if escalation else Outbox.escalation_id.is_(None),
        )
    )
    if db.scalar(pending) is None:
        key = f"{kind.value}:{uuid.uuid4().hex}"
        _queue(db, kind, "", now, key=key, case=case, escalation=escalation)


def ago(then: datetime | None, now: datetime) -> str:
    """'just now', '2 min ago', '3 h ago', '2 days ago'."""
    seconds = (now - then).total_seconds() if then else 0
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"
