"""The people and the world of the permission matrix (tests/security_matrix.py): one person
per role, and targets in every state an action needs (cases, escalations, drafts, replies,
reminders, crises), set up through the domain's own services as earlier clicks would have
been, and what of each must not change when someone is refused.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.fakeslack import SlackDriver
from escalation import cases, crises
from escalation.crises import Crisis, Severity
from escalation.models import (
    Case,
    CaseEvent,
    Deadline,
    Escalation,
    Mention,
    Nag,
    Outbox,
    Reply,
    Suggestion,
)
from escalation.people import Role
from tests.support import BOT_TOKEN, SIGNING_SECRET, mention_record, post_ingest, wait_until

TRIAGE, BILLING, RAPID_ROOM = "social-triage", "esc-billing", "rapid-response"
ROLES = ("owner", "agent", "lead", "other", "manager", "rapid", "stranger")
USERS = {
    "owner": "U0BEN0001",  # Ben, agent of Customer Care; owns the case, where there is one
    "agent": "U0AGENT01",  # another agent of Customer Care
    "lead": "U0TOM0001",  # Tom, lead of Billing & Payments, where the cases are escalated
    "other": "U0DEV0001",  # Dev, lead of Installation & Field Ops: another department
    "manager": "U0SAM0001",  # Sam, the manager (also on the rapid-action team)
    "rapid": "U0RAPID01",  # on the rapid-action team, and nothing else
    "stranger": "U0OUTSIDE1",  # in the Slack workspace, not in the organisation file
}
OWNER = USERS["owner"]


# --- the world the people act in ----------------------------------------------------------------


@dataclass
class World:
    """The running replica, the fake Slack, the database, and the people's hands on them."""

    replica: Any
    fake: Any
    sessions: Any
    marks: dict[str, int] = field(default_factory=dict)  # views each person had before acting

    def __post_init__(self) -> None:
        self.org = self.replica.org.directory()
        url, self.serial, self.lock = self.replica.url, itertools.count(1), threading.Lock()
        self.driver = SlackDriver(self.fake, bot_url=url, signing_secret=SIGNING_SECRET)
        self.client = WebClient(token=BOT_TOKEN, base_url=self.fake.url)  # the bot's own token
        self.team = frozenset(self.org.with_role(Role.RAPID))

    def next(self) -> int:
        with self.lock:
            return next(self.serial)

    def change(self, service: Callable, **kwargs) -> None:
        """A domain service, as an earlier click would have called it."""
        with unit_of_work(self.sessions) as db:
            service(db=db, now=datetime.now(UTC), **kwargs)
        self.replica.worker.wake.set()

    def show(self, user: str, view: dict) -> None:
        """Put a modal the bot draws on the person's screen, as if they had opened it."""
        self.client.views_open(trigger_id=self.fake.trigger_id(user), view=view)

    def ephemerals(self, user: str) -> list[str]:
        return [e["text"] for e in self.fake.ephemerals(user=user)]

    def opened(self, user: str, callback: str) -> bool:
        """A modal of that kind opened for the person since they acted."""
        views = self.fake.views(user)[self.marks.get(user, 0) :]
        return any(v["type"] == "modal" and v["callback_id"] == callback for v in views)


def message_with(fake, channel: str, marker: str, thread: str | None = None) -> dict | None:
    found = fake.replies(channel, thread) if thread else fake.messages(channel)
    return next((m for m in found if marker in m["text"] + json.dumps(m["blocks"])), None)


def has_button(fake, channel: str, ts: str, action_id: str) -> bool:
    """The message (top level or in a thread) offers `action_id` now."""
    channel_id = fake.channel_id(channel)
    with fake.workspace.lock:
        found = fake.workspace.find_message(channel_id, ts)
        blocks = json.dumps(found.blocks) if found is not None else ""
    return f'"action_id": "{action_id}"' in blocks


def new_case(world: World, **record) -> dict:
    """A mention through the webhook, once its card is in the triage channel."""
    n = world.next()
    answer = post_ingest(world.replica.url, mention_record(n, **record))
    assert answer.status == 202, answer.body

    def posted():
        with world.sessions() as db:
            query = select(Case.id, Case.triage_ts).join(Mention, Mention.case_id == Case.id)
            return db.execute(query.where(Mention.id == answer.body["id"])).first()

    case_id, ts = wait_until(lambda: (found := posted()) and found[1] and found, every=0.1)
    return {"n": n, "case": case_id, "ts": ts}


def case_in(world: World, state: str, button: str, **record) -> dict:
    """A case in `state` (owned by Ben unless new), once its card offers `button`."""
    target = new_case(world, **record)
    ben, case_id = world.org.actor(OWNER), target["case"]
    steps = {
        "new": [],
        "claimed": [cases.claim],
        "escalated": [cases.claim, escalate_to_billing],
        "resolved": [cases.claim, resolve],
        "waiting": [cases.claim, cases.wait_for_customer],
    }[state]
    for step in steps:
        world.change(step, case_id=case_id, actor=ben, org=world.org)
    wait_until(lambda: has_button(world.fake, TRIAGE, target["ts"], button), every=0.1)
    return target


def escalate_to_billing(**kwargs):
    return cases.escalate(department="billing", question="Charged twice?", note=None, **kwargs)


def resolve(**kwargs):
    return cases.resolve(outcome=cases.Outcome.NO_REPLY_NEEDED, link=None, **kwargs)


def escalation(world: World, button: str) -> dict:
    """A case of Ben's escalated to Billing, once Billing's card offers `button`."""
    target = case_in(world, "escalated", "reply-suggest")

    def posted():
        with world.sessions() as db:
            query = select(Escalation.id, Escalation.card_ts)
            return db.execute(query.where(Escalation.case_id == target["case"])).first()

    target["escalation"], target["card"] = wait_until(
        lambda: (found := posted()) and found[1] and found, every=0.1
    )
    wait_until(lambda: has_button(world.fake, BILLING, target["card"], button), every=0.1)
    return target


def drafts(world: World, button: str, **record) -> dict:
    """A case of Ben's with reply drafts in its thread (Ben asked for them)."""
    target = case_in(world, "claimed", "reply-suggest", **record)
    world.driver.click(OWNER, TRIAGE, target["ts"], "reply-suggest")
    found = wait_until(
        lambda: message_with(world.fake, TRIAGE, "Reply drafts", target["ts"]), every=0.1
    )
    target["drafts"] = found["ts"]
    with world.sessions() as db:
        target["suggestion"] = db.scalar(
            select(Suggestion.id).where(Suggestion.case_id == target["case"])
        )
    wait_until(lambda: has_button(world.fake, TRIAGE, found["ts"], button), every=0.1)
    return target


def reply(world: World, button: str, **record) -> dict:
    """A case of Ben's with a reply he approved from the drafts, once its card offers `button`."""
    target = drafts(world, "reply-use", **record)
    world.driver.click(OWNER, TRIAGE, target["drafts"], "reply-use")
    found = wait_until(
        lambda: message_with(world.fake, TRIAGE, "Reply to @", target["ts"]), every=0.1
    )
    target["card"] = found["ts"]
    with world.sessions() as db:
        target["reply"] = db.scalar(select(Reply.id).where(Reply.case_id == target["case"]))
    wait_until(lambda: has_button(world.fake, TRIAGE, found["ts"], button), every=0.1)
    return target


def reminder(world: World) -> dict:
    """Ben's half-time reminder, sent to him by direct message; its Snooze button is copied
    into the triage channel so that everyone can press it (the domain decides who may)."""
    target = case_in(world, "claimed", "reply-suggest")
    with unit_of_work(world.sessions) as db:
        nag = db.scalar(
            select(Nag).join(Deadline).where(Deadline.case_id == target["case"], Nag.step == "half")
        )
        nag.due_at, target["nag"] = datetime.now(UTC) - timedelta(seconds=1), nag.id
    value = f'"value": "{target["nag"]}"'
    sent = wait_until(
        lambda: [m for m in dm_messages(world.fake, OWNER) if value in json.dumps(m["blocks"])]
    )[0]
    target["ts"] = world.fake.add_message(
        TRIAGE, world.fake.bot_user_id, sent["text"], blocks=sent["blocks"]
    )
    return target


def dm_messages(fake, user: str) -> list[dict]:
    return [
        m
        for c in fake.channels()
        if c.get("is_im") and user in c.get("members", [])
        for m in fake.messages(c["id"])
    ]


def crisis(world: World, *, closed: bool = False) -> dict:
    """A crisis Sam declared, with a war room everyone is in (set up as far as this needs)."""
    n = world.next()
    name = f"crisis-matrix-{n}"
    channel = world.fake.add_channel(name, members=list(USERS.values()))
    sam, now = world.org.actor(USERS["manager"]), datetime.now(UTC)
    with unit_of_work(world.sessions) as db:
        declared = crises.declare(
            db=db,
            title=f"Matrix crisis {n}",
            severity=Severity.SEV2,
            summary="Leeds is down.",
            case_ids=[],
            actor=sam,
            team=world.team,
            cadence=dict.fromkeys(Severity, timedelta(hours=1)),
            setup_lease=timedelta(hours=1),
            now=now,
        )
        declared.channel_id, declared.channel_name, declared.ready_at = channel, name, now
        if closed:
            crises.close(
                db=db, crisis_id=declared.id, outcome="Fixed.", actor=sam, team=world.team, now=now
            )
        crisis_id = declared.id
    return {"crisis": crisis_id, "channel": channel, "n": n}


def planted_button(world: World, channel: str, action_id: str, value: str) -> str:
    """A message of the bot's with one button, as its own views carry it."""
    button = {"type": "button", "action_id": action_id, "value": value}
    button["text"] = {"type": "plain_text", "text": action_id}
    block = {"type": "actions", "block_id": f"{action_id}-actions", "elements": [button]}
    return world.fake.add_message(channel, world.fake.bot_user_id, action_id, blocks=[block])


# --- what must not change -----------------------------------------------------------------------


def case_state(world: World, target: dict) -> tuple:
    """Everything about the target's case: a refusal leaves all of it as it was."""
    case_id = target["case"]
    with world.sessions() as db:
        case = db.get(Case, case_id)

        def count(model) -> int:
            return db.scalar(select(func.count()).where(model.case_id == case_id))

        nags = db.execute(
            select(Nag.id, Nag.status, Nag.snoozes)
            .join(Deadline)
            .where(Deadline.case_id == case_id)
        ).all()
        return (
            (case.status, case.owner_id, case.resolution, case.first_reply_at),
            [(e.id, e.status, e.acknowledged_by, e.answered_by) for e in case.escalations],
            [
                tuple(r)
                for r in db.execute(
                    select(Reply.id, Reply.status, Reply.second_approver, Reply.posted_by).where(
                        Reply.case_id == case_id
                    )
                )
            ],
            count(Suggestion),
            count(CaseEvent),
            count(Outbox),
            sorted(tuple(n) for n in nags),
        )


def crisis_state(world: World, target: dict) -> tuple:
    with world.sessions() as db:
        found = db.get(Crisis, target["crisis"])
        return (
            (found.status, found.closed_by, found.archived_at),
            [(r.role, r.person) for r in found.roles],
            [link.case_id for link in found.links],
            [u.id for u in found.updates],
        )


def nothing(_world: World, _target: dict) -> tuple:
    return ()
