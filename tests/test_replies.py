"""Reply services on a real database: approval (and the second one), posting once, marking."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.db import unit_of_work
from bot.drafting import draft_replies
from escalation import cases, replies
from escalation.errors import DomainError, InvalidTransition, NotAllowed, Rejected
from escalation.mentions import NewMention, record_mention
from escalation.models import (
    Case,
    CaseEvent,
    Deadline,
    Mention,
    Outbox,
    OutboxKind,
    Reply,
    ReplyStatus,
)
from escalation.workflow import CaseStatus
from prompts.render import load_guide
from tests.support import mention_record
from tests.test_workflow import ORG, PEOPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AMIRA, BEN, PRIYA, TOM, LEO, SAM = (
    ORG.actor(PEOPLE[n]) for n in ("amira", "ben", "priya", "tom", "leo", "sam")
)
GUIDE = load_guide()
R = ReplyStatus


@pytest.fixture
def case_id(sessions) -> int:
    mention = NewMention.model_validate_json(json.dumps(mention_record(1)))
    with unit_of_work(sessions) as db:
        mention_id, _ = record_mention(
            db=db, mention=mention, triage_channel="social-triage", now=NOW, policies=ORG.policies
        )
        return cases.case_of(db, mention_id)


def act(sessions, service, **kwargs):
    with unit_of_work(sessions) as db:
        return service(db=db, org=ORG, now=kwargs.pop("now", NOW), **kwargs)


def suggest(sessions, case_id: int, actor=AMIRA) -> int:
    """Template drafts for the case, recorded as asked by `actor`: the suggestion's id."""
    with sessions() as db:
        mention = db.get(Case, case_id).mention
        drafted = draft_replies(mention, agent_initials=actor.initials, llm=None, guide=GUIDE)
    assert all(d.passes for d in drafted.drafts)
    suggestion = act(
        sessions,
        replies.record_suggestion,
        case_id=case_id,
        drafts=[(d, "template") for d in drafted.drafts],
        origin="template",
        prompt_version=drafted.prompt_version,
        model=None,
        llm_calls=0,
        note=None,
        actor=actor,
    )
    return suggestion.id


def approve(sessions, case_id: int, actor, **kwargs) -> Reply:
    return act(sessions, replies.approve, case_id=case_id, actor=actor, rules=GUIDE.rules, **kwargs)


def jobs(sessions, kind: OutboxKind) -> list[Outbox]:
    with sessions() as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)))


def events(sessions, case_id: int) -> list[CaseEvent]:
    with sessions() as db:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return list(db.scalars(stmt))


def reply_of(sessions, reply_id: int) -> Reply:
    with sessions() as db:
        return db.get(Reply, reply_id)


def test_a_used_draft_is_recorded_with_its_approver_model_and_prompt_version(sessions, case_id):
    suggestion_id = suggest(sessions, case_id)
    [drafts_job] = jobs(sessions, OutboxKind.REPLY_DRAFTS)
    assert drafts_job.payload == {"suggestion": suggestion_id}

    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggestion_id, index=1)

    assert reply.status == R.APPROVED and reply.approved_by == AMIRA.id
    assert reply.text.endswith("^AK") and not reply.edited and reply.second_needed is None
    audit = events(sessions, case_id)
    assert [e.action for e in audit] == ["suggest_reply", "approve_reply"]
    assert audit[1].actor == AMIRA.id
    assert audit[1].data["text"] == reply.text
    assert audit[1].data["origin"] == "template"
    assert audit[1].data["prompt_version"] == GUIDE.prompt_version
    assert audit[1].data["suggestion"] == suggestion_id
    [card] = jobs(sessions, OutboxKind.REPLY_CARD)
    assert card.payload == {"reply": reply.id} and card.channel == ORG.triage_channel
    # The drafts and the reply card are the thread's record: no extra history line.
    assert jobs(sessions, OutboxKind.THREAD_NOTE) == []


def test_another_approver_signs_a_draft_with_their_own_initials(sessions, case_id):
    suggestion_id = suggest(sessions, case_id, actor=AMIRA)
    reply = approve(sessions, case_id, BEN, suggestion_id=suggestion_id, index=0)
    assert reply.text.endswith("^BC") and "^AK" not in reply.text


def test_an_edit_that_breaks_the_guide_is_refused_with_the_reasons(sessions, case_id):
    suggestion_id = suggest(sessions, case_id)
    text = "So sorry! We will refund you in full, DM @someoneelse ^AK"
    with pytest.raises(Rejected, match="refund") as refused:
        approve(sessions, case_id, AMIRA, suggestion_id=suggestion_id, index=0, text=text)
    assert "@someoneelse" in str(refused.value)
    with sessions() as db:
        assert db.scalars(select(Reply)).all() == []


def test_an_edit_is_approved_and_marked_as_edited(sessions, case_id):
    suggestion_id = suggest(sessions, case_id)
    text = "Sorry your broadband is down. We're checking your line now and will update you. ^AK"
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggestion_id, index=0, text=text)
    assert reply.text == text and reply.edited
    assert events(sessions, case_id)[-1].data["edited"] is True


def test_a_newer_approval_replaces_the_one_not_yet_out(sessions, case_id):
    suggestion_id = suggest(sessions, case_id)
    first = approve(sessions, case_id, AMIRA, suggestion_id=suggestion_id, index=0)
    second = approve(sessions, case_id, AMIRA, suggestion_id=suggestion_id, index=1)
    assert reply_of(sessions, first.id).status == R.SUPERSEDED
    assert reply_of(sessions, second.id).status == R.APPROVED
    assert [j.payload for j in jobs(sessions, OutboxKind.REPLY_UPDATE)] == [{"reply": first.id}]


def set_priority(sessions, case_id: int, priority: str) -> None:
    with unit_of_work(sessions) as db:
        db.get(Case, case_id).priority = priority


def test_a_p1_reply_needs_a_lead_or_manager_who_is_not_its_author(sessions, case_id):
    set_priority(sessions, case_id, "P1")
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    assert reply.status == R.AWAITING_SECOND and reply.second_needed == "P1"

    second = {"case_id": case_id, "reply_id": reply.id}
    with pytest.raises(NotAllowed, match="a second person must approve"):
        act(sessions, replies.second_approve, actor=AMIRA, **second)
    with pytest.raises(NotAllowed, match="needs a lead") as refused:
        act(sessions, replies.second_approve, actor=BEN, **second)
    assert "<@U0PRIYA01>" in str(refused.value)  # names who can
    with pytest.raises(InvalidTransition, match="second approval"):
        act(sessions, replies.start_posting, actor=AMIRA, **second)

    act(sessions, replies.second_approve, actor=PRIYA, **second)
    approved = reply_of(sessions, reply.id)
    assert approved.status == R.APPROVED and approved.second_approver == PRIYA.id
    assert events(sessions, case_id)[-1].action == "second_approve_reply"


def test_a_legal_reply_needs_legal_or_a_manager(sessions, case_id):
    with unit_of_work(sessions) as db:
        db.execute(update(Mention).values(department="legal"))
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    assert reply.second_needed == "Legal"
    second = {"case_id": case_id, "reply_id": reply.id}
    with pytest.raises(NotAllowed, match="a member of Legal"):
        act(sessions, replies.second_approve, actor=TOM, **second)  # a lead, of Billing
    act(sessions, replies.second_approve, actor=LEO, **second)
    assert reply_of(sessions, reply.id).status == R.APPROVED


def test_a_p1_legal_reply_can_be_seconded_by_a_manager(sessions, case_id):
    set_priority(sessions, case_id, "P1")
    with unit_of_work(sessions) as db:
        db.execute(update(Mention).values(department="legal"))
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    assert reply.second_needed == "P1, Legal"
    second = {"case_id": case_id, "reply_id": reply.id}
    with pytest.raises(NotAllowed):
        act(sessions, replies.second_approve, actor=PRIYA, **second)  # a lead, not Legal
    act(sessions, replies.second_approve, actor=SAM, **second)


def test_a_posted_reply_meets_the_first_reply_deadline(sessions, case_id):
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    later = NOW + timedelta(minutes=20)
    act(sessions, replies.start_posting, case_id=case_id, reply_id=reply.id, actor=AMIRA)
    assert reply_of(sessions, reply.id).status == R.POSTING
    link = "https://x.com/i/web/status/1900000000000000001"
    act(sessions, replies.posted, reply_id=reply.id, posted_id="1900000000000000001", link=link,
        now=later)  # fmt: skip

    done = reply_of(sessions, reply.id)
    assert (done.status, done.posted_id, done.link, done.posted_by) == (
        R.POSTED, "1900000000000000001", link, AMIRA.id
    )  # fmt: skip
    with sessions() as db:
        case = db.get(Case, case_id)
        assert case.status == CaseStatus.REPLIED
        assert case.first_reply_at == later
        deadline = db.scalar(select(Deadline).where(Deadline.kind == "first_reply"))
        assert (deadline.status, deadline.met_at) == ("met", later)
    assert events(sessions, case_id)[-1].data == {"reply": reply.id, "link": link, "posted": True}
    assert len(jobs(sessions, OutboxKind.THREAD_NOTE)) == 1  # "posted the reply · link"


def test_a_reply_is_posted_once_however_many_clicks(sessions, case_id):
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)

    def click(_):
        try:
            act(sessions, replies.start_posting, case_id=case_id, reply_id=reply.id, actor=AMIRA)
            return True
        except DomainError:
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(click, range(8))) == 1


def test_a_refused_post_can_be_posted_again(sessions, case_id):
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    ids = {"case_id": case_id, "reply_id": reply.id}
    act(sessions, replies.start_posting, actor=AMIRA, **ids)
    error = "X: 403: You are not allowed to create a Tweet with duplicate content."
    act(sessions, replies.post_failed, reply_id=reply.id, error=error, uncertain=False)
    failed = reply_of(sessions, reply.id)
    assert (failed.status, failed.error) == (R.FAILED, error)
    assert events(sessions, case_id)[-1].action == "post_reply_failed"
    assert len(jobs(sessions, OutboxKind.THREAD_NOTE)) == 1  # the refusal, in the thread
    with sessions() as db:
        assert db.get(Case, case_id).first_reply_at is None  # nothing went out
    act(sessions, replies.start_posting, actor=BEN, **ids)
    assert reply_of(sessions, reply.id).posted_by == BEN.id


def test_an_uncertain_post_is_never_sent_again_and_a_person_marks_it(sessions, case_id):
    reply = approve(sessions, case_id, AMIRA, suggestion_id=suggest(sessions, case_id), index=0)
    ids = {"case_id": case_id, "reply_id": reply.id}
    act(sessions, replies.start_posting, actor=AMIRA, **ids)
    act(sessions, replies.post_failed, reply_id=reply.id, error="X: 503", uncertain=True)
    assert reply_of(sessions, reply.id).status == R.UNCERTAIN
    with pytest.raises(InvalidTransition, match="may be out"):
        act(sessions, replies.start_posting, actor=AMIRA, **ids)
    with pytest.raises(InvalidTransition, match="may already be public"):
        approve(sessions, case_id, AMIRA, text="Sorry about that, we're on it. ^AK")

    link = "https://x.com/brightwave/status/1900000000000000009"
    act(sessions, replies.mark_replied, link=link, actor=AMIRA, **ids)
    marked = reply_of(sessions, reply.id)
    assert (marked.status, marked.link) == (R.MARKED, link)
    with sessions() as db:
        assert db.get(Case, case_id).status == CaseStatus.REPLIED


def test_mark_replied_without_a_reply_counts_as_the_first_reply(sessions, case_id):
    link = "https://mastodon.social/@brightwave/1"
    act(sessions, replies.mark_replied, case_id=case_id, link=link, actor=AMIRA)
    with sessions() as db:
        case = db.get(Case, case_id)
        assert (case.status, case.first_reply_at) == (CaseStatus.REPLIED, NOW)
    assert events(sessions, case_id)[-1].action == "mark_replied"


def test_a_reply_while_a_department_works_on_it_keeps_the_status(sessions, case_id):
    act(sessions, cases.claim, case_id=case_id, actor=AMIRA)
    act(sessions, cases.escalate, case_id=case_id, department="billing", question="?", note=None,
        actor=AMIRA)  # fmt: skip
    act(sessions, replies.mark_replied, case_id=case_id, link="https://x.com/a/1", actor=AMIRA)
    with sessions() as db:
        case = db.get(Case, case_id)
        assert case.status == CaseStatus.ESCALATED and case.first_reply_at == NOW
    assert events(sessions, case_id)[-1].from_status == CaseStatus.ESCALATED


def test_only_staff_may_reply_and_not_to_a_resolved_case(sessions, case_id):
    outsider = ORG.actor("U0NOBODY1")
    with pytest.raises(NotAllowed, match="organisation file"):
        approve(sessions, case_id, outsider, text="Hi ^X")
    act(sessions, cases.claim, case_id=case_id, actor=AMIRA)
    with pytest.raises(NotAllowed, match="Only the owner"):
        approve(sessions, case_id, BEN, text="Sorry, checking now. ^BC")
    act(sessions, cases.resolve, case_id=case_id, outcome=cases.Outcome.NO_REPLY_NEEDED,
        link=None, actor=AMIRA)  # fmt: skip
    with pytest.raises(InvalidTransition, match="resolved"):
        suggest(sessions, case_id)
