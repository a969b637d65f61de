"""Public replies: drafts offered, one approved by a person (and a second for P1 or Legal),
then posted once or marked as replied by hand.

Nothing here talks to a network. Posting is split in two so that a reply goes out at most once:
`start_posting` commits the reply as POSTING before anything is sent, and `posted` or
`post_failed` records what the network said. A reply left POSTING or UNCERTAIN is never sent
again by the bot; a person looks on the platform and marks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from escalation import sla
from escalation.cases import load_case, record, transition
from escalation.deadlines import DeadlineKind
from escalation.drafts import CheckedDraft, Draft, DraftRules, check_draft, context_for
from escalation.errors import InvalidTransition, NotAllowed, NotFound, Rejected
from escalation.models import Case, Outbox, OutboxKind, Reply, ReplyStatus, Suggestion
from escalation.people import Actor, Directory, Role, person
from escalation.permissions import refusal
from escalation.workflow import SOURCES, Action, CaseStatus

R = ReplyStatus
LIVE = frozenset({R.AWAITING_SECOND, R.APPROVED, R.FAILED})  # replaced by a newer approval
OUT_OR_MAYBE = frozenset({R.POSTING, R.UNCERTAIN})  # a person must look before anything else


class ReplyAction(StrEnum):
    """Audit names of what happens to replies (marking replied is the workflow's own)."""

    SUGGEST = "suggest_reply"
    APPROVE = "approve_reply"
    SECOND_APPROVE = "second_approve_reply"
    POST_FAILED = "post_reply_failed"
    POST_UNCERTAIN = "post_reply_uncertain"


def check_may_reply(*, db: Session, case_id: int, actor: Actor, org: Directory) -> Case:
    """The case, if `actor` may draft and approve its public reply: staff (the owner, when it
    has one, or a lead or manager), while it is open."""
    case = db.get(Case, case_id)
    if case is None:
        raise NotFound("That case no longer exists.")
    _may_reply(case, actor, org)
    return case


def _may_reply(case: Case, actor: Actor, org: Directory) -> None:
    if case.status == CaseStatus.RESOLVED:
        raise InvalidTransition("This case is resolved; reopen it to reply.")
    args = {"owner": case.owner_id, "department": None, "directory": org}
    if reason := refusal(Action.MARK_REPLIED, actor, **args):
        raise NotAllowed(reason.replace("mark as replied", "reply to"))


def record_suggestion(
    *,
    db: Session,
    case_id: int,
    drafts: Sequence[tuple[CheckedDraft, str]],
    origin: str,
    prompt_version: str,
    model: str | None,
    llm_calls: int,
    note: str | None,
    actor: Actor,
    org: Directory,
    now: datetime,
) -> Suggestion:
    """Keep the drafts offered (each with its origin, llm or template, and its problems) and
    queue them for the case's thread."""
    case = load_case(db, case_id)
    _may_reply(case, actor, org)
    suggestion = Suggestion(
        case_id=case.id,
        requested_by=actor.id,
        requested_at=now,
        origin=origin,
        model=model,
        prompt_version=prompt_version,
        llm_calls=llm_calls,
        note=note,
        drafts=[_stored(checked, draft_origin) for checked, draft_origin in drafts],
    )
    db.add(suggestion)
    db.flush()
    data = {"suggestion": suggestion.id, "origin": origin, "model": model}
    data["prompt_version"] = prompt_version
    record(db, case, ReplyAction.SUGGEST, actor, org, now, data=data, history=False)
    payload = {"suggestion": suggestion.id}
    _queue(db, OutboxKind.REPLY_DRAFTS, org.triage_channel, now, case.id, payload)
    return suggestion


def _stored(checked: CheckedDraft, origin: str) -> dict:
    return checked.draft.model_dump() | {
        "origin": origin,
        "problems": [{"rule": p.rule, "message": p.message} for p in checked.problems],
    }


def approve(
    *,
    db: Session,
    case_id: int,
    actor: Actor,
    org: Directory,
    rules: DraftRules,
    now: datetime,
    suggestion_id: int | None = None,
    index: int | None = None,
    text: str | None = None,
) -> Reply:
    """Approve a suggested draft (`suggestion_id`, `index`), as it is or edited into `text`, or
    a text of the person's own. The final text is checked again, signed by whoever approves it;
    what breaks a rule is refused with the reasons. P1 and Legal cases then await a second
    approver."""
    case = load_case(db, case_id)
    _may_reply(case, actor, org)
    drafted = _suggested(db, case, suggestion_id, index)
    final = (text or (drafted or {}).get("text") or "").strip()
    if drafted and text is None:  # used as it is: sign it with the approver's initials
        final = _resigned(final, db.get(Suggestion, suggestion_id), actor, org)
    context = context_for(
        case.mention, rules=rules, agent_initials=actor.initials, department=department_of(case)
    )
    if problems := check_draft(Draft(text=final or " "), context):
        raise Rejected("Not approved: " + " ".join(p.message for p in problems))
    _supersede(db, case, now)
    reasons = second_reasons(case, rules)
    reply = Reply(
        case_id=case.id,
        suggestion_id=suggestion_id if drafted else None,
        draft_index=index if drafted else None,
        text=final,
        edited=bool(drafted) and final != drafted["text"],
        status=R.AWAITING_SECOND if reasons else R.APPROVED,
        approved_by=actor.id,
        approved_at=now,
        second_needed=", ".join(reasons) or None,
        updated_at=now,
    )
    db.add(reply)
    db.flush()
    data = {"reply": reply.id, "text": final, "edited": reply.edited, "second": reasons}
    if suggestion := reply.suggestion:
        data |= {"origin": drafted.get("origin"), "model": suggestion.model}
        data |= {"prompt_version": suggestion.prompt_version, "suggestion": suggestion.id}
    record(db, case, ReplyAction.APPROVE, actor, org, now, data=data, history=False)
    _queue(db, OutboxKind.REPLY_CARD, org.triage_channel, now, case.id, {"reply": reply.id})
    return reply


def _suggested(db: Session, case: Case, suggestion_id: int | None, index: int | None):
    if suggestion_id is None:
        return None
    suggestion = db.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.case_id != case.id:
        raise NotFound("Those drafts are not this case's.")
    if index is None or not 0 <= index < len(suggestion.drafts):
        raise NotFound("That draft is not among the ones suggested.")
    return suggestion.drafts[index]


def _resigned(text: str, suggestion: Suggestion, actor: Actor, org: Directory) -> str:
    """Drafts are signed for the person who asked; another approver signs with their own."""
    requester = org.actor(suggestion.requested_by).initials
    theirs, mine = f"^{requester}", f"^{actor.initials}"
    return text[: -len(theirs)] + mine if text.endswith(theirs) and theirs != mine else text


def department_of(case: Case) -> str | None:
    """The department a reply speaks for: the one the case is waiting on, else triage's guess."""
    waiting = case.escalation
    return waiting.department if waiting else case.mention.department


def second_reasons(case: Case, rules: DraftRules) -> list[str]:
    """Why a reply needs a second approver: a P1 case, or a legal matter."""
    reasons = ["P1"] if case.priority == "P1" else []
    legal = rules.legal_department
    if case.mention.department == legal or any(e.department == legal for e in case.escalations):
        reasons.append("Legal")
    return reasons


def _supersede(db: Session, case: Case, now: datetime) -> None:
    """A newer approval replaces the ones not yet out; none while one may be out already."""
    for reply in _replies(db, case.id):
        if reply.status in OUT_OR_MAYBE:
            raise InvalidTransition(
                "The last reply may already be public; check the platform and mark it first."
            )
        if reply.status in LIVE:
            reply.status, reply.updated_at = R.SUPERSEDED, now
            _redraw(db, reply, now)


def _replies(db: Session, case_id: int) -> list[Reply]:
    return list(db.scalars(select(Reply).where(Reply.case_id == case_id).order_by(Reply.id)))


def second_approve(
    *, db: Session, case_id: int, reply_id: int, actor: Actor, org: Directory, now: datetime
) -> Reply:
    """A second person approves a P1 or Legal reply: never its author; a member of Legal (or a
    manager) for a legal matter, a lead or manager for a P1."""
    case, reply = _reply(db, case_id, reply_id)
    if reply.status != R.AWAITING_SECOND:
        raise InvalidTransition("This reply does not need a second approval now.")
    if actor.id == reply.approved_by:
        raise NotAllowed("You approved this reply; a second person must approve it.")
    reasons = (reply.second_needed or "").split(", ")
    if not _may_second(actor, reasons):
        raise NotAllowed(_who_may_second(reasons, reply, org))
    reply.status, reply.updated_at = R.APPROVED, now
    reply.second_approver, reply.second_approved_at = actor.id, now
    data = {"reply": reply.id, "second": reasons}
    record(db, case, ReplyAction.SECOND_APPROVE, actor, org, now, data=data, history=False)
    _redraw(db, reply, now)
    return reply


def _may_second(actor: Actor, reasons: list[str]) -> bool:
    if Role.MANAGER in actor.roles:
        return True
    legal_ok = "Legal" not in reasons or "legal" in actor.departments
    p1_ok = "P1" not in reasons or Role.LEAD in actor.roles
    return legal_ok and p1_ok


def _who_may_second(reasons: list[str], reply: Reply, org: Directory) -> str:
    people = [
        slack_id
        for slack_id, candidate in org.people.items()
        if slack_id != reply.approved_by and _may_second(candidate, reasons)
    ]
    names = ", ".join(person(p) for p in people[:5]) or "a manager"
    needs = " and ".join({"P1": "a lead", "Legal": "a member of Legal"}[r] for r in reasons)
    return f"A {' and '.join(reasons)} reply needs {needs} or a manager to approve it: ask {names}."


def start_posting(
    *, db: Session, case_id: int, reply_id: int, actor: Actor, org: Directory, now: datetime
) -> Reply:
    """Claim the right to send this reply, once: committed before anything goes out, so a second
    click, a retry or another replica finds it POSTING and sends nothing."""
    case, reply = _reply(db, case_id, reply_id)
    _may_reply(case, actor, org)
    if reply.status == R.POSTING:
        raise InvalidTransition("This reply is being posted already.")
    if reply.status not in (R.APPROVED, R.FAILED):
        raise InvalidTransition(_not_postable(reply))
    reply.status, reply.posted_by, reply.error, reply.updated_at = R.POSTING, actor.id, None, now
    _redraw(db, reply, now)
    return reply


def _not_postable(reply: Reply) -> str:
    return {
        R.AWAITING_SECOND: "This reply still needs its second approval.",
        R.POSTED: "This reply is posted already.",
        R.MARKED: "This case was marked as replied already.",
        R.UNCERTAIN: "This reply may be out already: look on the platform, then mark it.",
        R.SUPERSEDED: "A newer reply replaced this one.",
    }.get(reply.status, "This reply cannot be posted now.")


def posted(
    *, db: Session, reply_id: int, posted_id: str, link: str, org: Directory, now: datetime
) -> Reply:
    """The platform took the reply: the case counts as replied publicly."""
    reply = _posting(db, reply_id)
    reply.status, reply.posted_id, reply.link, reply.updated_at = R.POSTED, posted_id, link, now
    _redraw(db, reply, now)
    data = {"reply": reply.id, "link": link, "posted": True}
    _replied(db, reply.case, org.actor(reply.posted_by), org, now, data)
    return reply


def post_failed(
    *, db: Session, reply_id: int, error: str, uncertain: bool, org: Directory, now: datetime
) -> Reply:
    """The platform refused (nothing is out: it can be posted again) or did not say
    (`uncertain`: it may be out; a person must look)."""
    reply = _posting(db, reply_id)
    reply.status = R.UNCERTAIN if uncertain else R.FAILED
    reply.error, reply.updated_at = error[:500], now
    _redraw(db, reply, now)
    action = ReplyAction.POST_UNCERTAIN if uncertain else ReplyAction.POST_FAILED
    data = {"reply": reply.id, "error": reply.error}
    record(db, reply.case, action, org.actor(reply.posted_by), org, now, data=data)
    return reply


def mark_replied(
    *,
    db: Session,
    case_id: int,
    link: str | None,
    actor: Actor,
    org: Directory,
    now: datetime,
    reply_id: int | None = None,
) -> Case:
    """A person replied themselves (or saw that an uncertain post went out): the link is kept
    and the case counts as replied."""
    case = load_case(db, case_id)
    _may_reply(case, actor, org)
    data: dict = {"link": link}
    if reply_id is not None:
        reply = _reply_of(db, case, reply_id)
        if reply.status not in (R.APPROVED, R.FAILED, R.UNCERTAIN, R.POSTING):
            raise InvalidTransition(_not_postable(reply))
        reply.status, reply.link, reply.updated_at = R.MARKED, link, now
        reply.posted_by = actor.id
        _redraw(db, reply, now)
        data["reply"] = reply.id
    _replied(db, case, actor, org, now, data)
    return case


def _replied(db: Session, case: Case, actor: Actor, org: Directory, now: datetime, data: dict):
    """The case has its public reply: its first-reply deadline is met."""
    if case.status in SOURCES[Action.MARK_REPLIED]:
        transition(db, case, Action.MARK_REPLIED, actor, org, now, data=data)
    else:  # replied while a department still works on it, or again: audited, status kept
        record(db, case, Action.MARK_REPLIED, actor, org, now, data=data)
    if case.first_reply_at is None:
        case.first_reply_at = now
    sla.settle(case=case, kind=DeadlineKind.FIRST_REPLY, met=True, now=now)


def _reply(db: Session, case_id: int, reply_id: int) -> tuple[Case, Reply]:
    case = load_case(db, case_id)
    return case, _reply_of(db, case, reply_id)


def _reply_of(db: Session, case: Case, reply_id: int) -> Reply:
    reply = db.get(Reply, reply_id)
    if reply is None or reply.case_id != case.id:
        raise NotFound("That reply is not this case's.")
    return reply


def _posting(db: Session, reply_id: int) -> Reply:
    reply = db.get(Reply, reply_id)
    if reply is None:
        raise NotFound("That reply no longer exists.")
    load_case(db, reply.case_id)  # the case's lock orders this with every other change
    if reply.status != R.POSTING:
        raise InvalidTransition(f"reply {reply.id} is {reply.status}, not being posted")
    return reply


def _redraw(db: Session, reply: Reply, now: datetime) -> None:
    """Redraw the reply's card in place (a redraw names no channel of its own)."""
    _queue(db, OutboxKind.REPLY_UPDATE, "", now, reply.case_id, {"reply": reply.id})


def _queue(db, kind: OutboxKind, channel: str, now, case_id: int, payload: dict) -> None:
    db.add(
        Outbox(
            dedupe_key=f"{kind.value}:{uuid.uuid4().hex}",
            kind=kind,
            channel=channel,
            case_id=case_id,
            payload=payload,
            due_at=now,
            created_at=now,
        )
    )
