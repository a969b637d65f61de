"""What each outbox job becomes in Slack: a Web API call drawn from the current state.

Drawing at send time, not at queue time, means a redraw shows the newest state and several
changes in a row need one chat.update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from bot.digest import draw_digest
from bot.views.cards import department_card, triage_card
from bot.views.notes import history_note
from bot.views.reminders import nag_message, nag_text
from bot.views.replies import drafts_message, reply_card
from bot.views.surge import roll_up_line, rolled_up, surge_alert
from escalation.models import Case, Mention, Outbox, OutboxKind, Reply, Suggestion
from escalation.people import Directory
from escalation.surge import SurgeAlert

POST, UPDATE = "chat.postMessage", "chat.update"
DIRECT = "dm:"  # a channel written this way is the direct message with that user
UPDATE_PACE = "api:chat.update"  # Slack limits chat.update per workspace (tier 3)
REDRAWS = frozenset(
    {OutboxKind.TRIAGE_UPDATE, OutboxKind.DEPARTMENT_UPDATE, OutboxKind.REPLY_UPDATE}
)


def pace_key(job: Outbox) -> str:
    """The rate limit a job counts against: its channel's posts, or the workspace's updates."""
    return UPDATE_PACE if job.kind in REDRAWS else job.channel


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict
    pace_key: str


@dataclass(frozen=True)
class Skip:
    """Nothing to send: the job is done (a redraw of a card that is not posted yet)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """Not yet: what it refers to (the card a note threads under) is not in Slack yet."""

    seconds: float


class Renderer:
    def __init__(
        self, org: Directory, team_url: str = "", clock=None, postable: frozenset[str] = frozenset()
    ) -> None:
        self.org, self.team_url = org, team_url
        self.clock = clock or (lambda: datetime.now(UTC))
        self.postable = postable  # the sources the bot can post replies on

    def render(self, job: Outbox) -> SlackCall | Skip | Defer:
        return getattr(self, f"_{OutboxKind(job.kind).value}")(job)

    def record(self, job: Outbox, channel: str, ts: str) -> None:
        """Remember where a new card landed, so that redraws and threads can find it."""
        if job.kind == OutboxKind.TRIAGE_CARD:
            job.case.triage_channel, job.case.triage_ts = channel, ts
        elif job.kind == OutboxKind.DEPARTMENT_CARD:
            job.escalation.card_channel, job.escalation.card_ts = channel, ts
        elif job.kind == OutboxKind.REPLY_CARD:
            reply = _reply(job)
            reply.card_channel, reply.card_ts = channel, ts

    def _triage_card(self, job: Outbox) -> SlackCall:
        card = triage_card(job.case, self.org, self.clock(), _roll_up(job.case))
        return _post(job, job.channel, {"text": card.text, "blocks": card.blocks})

    def _triage_update(self, job: Outbox) -> SlackCall | Skip:
        case = job.case
        if case.triage_ts is None:
            return Skip("the card is not posted yet; its post draws the newest state")
        card = triage_card(case, self.org, self.clock(), _roll_up(case))
        args = {"channel": case.triage_channel, "ts": case.triage_ts}
        return SlackCall(UPDATE, args | {"text": card.text, "blocks": card.blocks}, pace_key(job))

    def _thread_note(self, job: Outbox) -> SlackCall | Defer:
        case = job.case
        if case.triage_ts is None:
            return Defer(2.0)
        text = history_note(job.event, self.org)
        return _post(job, case.triage_channel, {"text": text, "thread_ts": case.triage_ts})

    def _department_card(self, job: Outbox) -> SlackCall | Defer:
        if job.case.triage_ts is None:  # the card links back to the triage thread
            return Defer(2.0)
        card = department_card(job.escalation, self.org, self.team_url, self.clock())
        return _post(job, job.channel, {"text": card.text, "blocks": card.blocks})

    def _department_update(self, job: Outbox) -> SlackCall | Skip:
        escalation = job.escalation
        if escalation.card_ts is None:
            return Skip("the escalation card is not posted yet")
        card = department_card(escalation, self.org, self.team_url, self.clock())
        args = {"channel": escalation.card_channel, "ts": escalation.card_ts}
        return SlackCall(UPDATE, args | {"text": card.text, "blocks": card.blocks}, pace_key(job))

    def _mention_added(self, job: Outbox) -> SlackCall | Defer:
        case = job.case
        if case.triage_ts is None:
            return Defer(2.0)
        message = rolled_up(_added(job))
        args = {"text": message.text, "blocks": message.blocks, "thread_ts": case.triage_ts}
        return _post(job, case.triage_channel, args)

    def _nag(self, job: Outbox) -> SlackCall | Skip | Defer:
        """A reminder; dropped if the deadline was met or the case closed after it was queued."""
        nag, now = job.nag, self.clock()
        deadline = nag.deadline
        if deadline.status != "running" or deadline.case.status == "resolved":
            return Skip("no longer owed")
        if job.payload["to"] == "dm":
            message = nag_message(nag, self.org, now, self.team_url)
            args = {"channel": f"{DIRECT}{job.payload['user']}", "text": message.text}
            return _post(job, args.pop("channel"), args | {"blocks": message.blocks})
        channel, ts = _thread_of(job)
        if ts is None:
            return Defer(2.0)
        text = nag_text(nag, self.org, now, self.team_url)
        return _post(job, channel, {"text": text, "thread_ts": ts})

    def _surge_alert(self, job: Outbox) -> SlackCall:
        db = object_session(job)
        surge = db.get_one(SurgeAlert, job.payload["alert"])
        ids = list(surge.alert.sample_ids)
        samples = db.scalars(select(Mention).where(Mention.id.in_(ids)).order_by(Mention.id))
        message = surge_alert(surge, list(samples))
        return _post(job, job.channel, {"text": message.text, "blocks": message.blocks})

    def _reply_drafts(self, job: Outbox) -> SlackCall | Defer:
        case = job.case
        if case.triage_ts is None:
            return Defer(2.0)
        suggestion = object_session(job).get_one(Suggestion, job.payload["suggestion"])
        message = drafts_message(suggestion, self.org)
        args = {"text": message.text, "blocks": message.blocks, "thread_ts": case.triage_ts}
        return _post(job, case.triage_channel, args)

    def _reply_card(self, job: Outbox) -> SlackCall | Defer:
        case = job.case
        if case.triage_ts is None:
            return Defer(2.0)
        message = reply_card(_reply(job), self.org, self.postable)
        args = {"text": message.text, "blocks": message.blocks, "thread_ts": case.triage_ts}
        return _post(job, case.triage_channel, args)

    def _digest(self, job: Outbox) -> SlackCall:
        """A manager's daily digest, drawn from the KPIs as they are at sending."""
        message = draw_digest(object_session(job), job.payload, self.org, self.clock())
        return _post(job, job.channel, {"text": message.text, "blocks": message.blocks})

    def _reply_update(self, job: Outbox) -> SlackCall | Skip:
        reply = _reply(job)
        if reply.card_ts is None:
            return Skip("the reply card is not posted yet; its post draws the newest state")
        message = reply_card(reply, self.org, self.postable)
        args = {"channel": reply.card_channel, "ts": reply.card_ts}
        args |= {"text": message.text, "blocks": message.blocks}
        return SlackCall(UPDATE, args, pace_key(job))


def _roll_up(case: Case) -> str | None:
    """The roll-up line of a case that gathers a surge's mentions; None for any other case."""
    db = object_session(case)
    surge = db.scalar(select(SurgeAlert).where(SurgeAlert.case_id == case.id).limit(1))
    if surge is None:
        return None
    count = db.scalar(select(func.count()).select_from(Mention).where(Mention.case_id == case.id))
    return roll_up_line(surge.topic, count)


def _added(job: Outbox) -> list[Mention]:
    """The mentions a thread message shows: the job's list (several while a case is busy)."""
    ids = (job.payload or {}).get("mentions") or [job.mention_id]
    found = object_session(job).scalars(select(Mention).where(Mention.id.in_(ids)))
    return sorted(found, key=lambda mention: ids.index(mention.id))


def _reply(job: Outbox) -> Reply:
    return object_session(job).get_one(Reply, job.payload["reply"])


def _thread_of(job: Outbox) -> tuple[str | None, str | None]:
    """Reminders about an escalation go under its card; the others under the triage card."""
    if job.escalation is not None and job.nag.deadline.kind == "acknowledge":
        return job.escalation.card_channel, job.escalation.card_ts
    return job.case.triage_channel, job.case.triage_ts


def _post(job: Outbox, channel: str, args: dict) -> SlackCall:
    """A post, paced on the channel's configured name (the same key whatever `channel` is)."""
    # Links in mentions are the customer's, not ours: never unfurl them.
    unfurl = {"unfurl_links": False, "unfurl_media": False}
    return SlackCall(POST, {"channel": channel, **unfurl, **args}, pace_key(job))
