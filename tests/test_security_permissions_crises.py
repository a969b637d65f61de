"""Who may run crises, use the slash commands, turn a Slack message into a case and see the
App Home, for every role (see tests/test_security_permissions_cases.py for how to read the
matrix); and that the three matrices cover every listener the bot registers.

The rapid-action team is Amira, Hana, Owen, Sam and Rafa (the "rapid" column); commands about
a crisis are typed in its war room, which everyone here is in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import handlers
from bot.db import unit_of_work
from bot.views.crisis import close_modal, declare_modal, update_modal
from bot.views.ids import ActionId, CallbackId
from bot.views.modals import message_escalate_modal
from escalation.crises import Crisis, CrisisCase, CrisisRole, CrisisUpdate
from escalation.models import Escalation, Mention
from escalation.surge import Alert, AlertKind, raise_once
from handlers import rapid
from tests import test_security_permissions_cases, test_security_permissions_replies
from tests.security_matrix import (
    Scenario,
    fast_limits,
    mismatches,
    opened,
    parse,
    run,
    start_world,
    submit,
)
from tests.security_targets import (
    RAPID_ROOM,
    TRIAGE,
    World,
    crisis,
    crisis_state,
    new_case,
    nothing,
    planted_button,
)

EXPECTED = parse("""
crisis-archive                no    no    no    no    ok    ok    no
surge-declare                 no    no    no    no    ok    ok    no
crisis-declare-modal          no    no    no    no    ok    ok    no
crisis-update-modal           no    no    no    no    ok    ok    no
crisis-close-modal            no    no    no    no    ok    ok    no
/rapid:declare                no    no    no    no    ok    ok    no
/rapid:status                 ok    ok    ok    ok    ok    ok    no
/rapid:update                 no    no    no    no    ok    ok    no
/rapid:role                   no    no    no    no    ok    ok    no
/rapid:link                   ok    ok    ok    ok    ok    ok    no
/rapid:close                  no    no    no    no    ok    ok    no
/rapid:help                   ok    ok    ok    ok    ok    ok    ok
/social:digest                ok    ok    ok    ok    ok    ok    no
/social:help                  ok    ok    ok    ok    ok    ok    ok
message-escalate              ok    ok    ok    ok    ok    no    no
message-escalate-modal        ok    ok    ok    ok    ok    no    no
app_home_opened               ok    ok    ok    ok    ok    ok    no
""")  # owner agent lead  other manager rapid stranger
OWEN = "U0OWEN001"


@pytest.fixture
def slack_limits():
    return fast_limits()


# --- targets ------------------------------------------------------------------------------------


def war_room(world: World) -> dict:
    return crisis(world)


def closed_war_room(world: World) -> dict:
    target = crisis(world, closed=True)
    target["ts"] = planted_button(world, target["channel"], "crisis-archive", str(target["crisis"]))
    return target


def surge(world: World) -> dict:
    now = datetime.now(UTC)
    alert = Alert(
        kind=AlertKind.VOLUME, topic="place:leeds", window_start=now - timedelta(minutes=20),
        window_end=now, count=15, expected=1.2, negative_share=0.9, baseline_negative_share=None,
        sample_ids=(), reason="15 mentions about Leeds in 20 min, against 1.2 usually",
    )  # fmt: skip
    with unit_of_work(world.sessions) as db:
        surge_id = raise_once(db=db, alert=alert, cooldown=timedelta(hours=2)).id
    return {"ts": planted_button(world, RAPID_ROOM, "surge-declare", str(surge_id))}


def titled(world: World) -> dict:
    return {"title": f"Matrix declared {world.next()}"}


def with_case(world: World) -> dict:
    return crisis(world) | {"case": new_case(world)["case"]}


def pasted(world: World) -> dict:
    """A colleague's message in the triage channel, as a person pasted it."""
    n = world.next()
    text = f"Customer {n} emailed: charged twice for October, wants it sorted"
    return {"ts": world.fake.add_message(TRIAGE, "U0AMIRA01", text), "text": text}


def none(_world: World) -> dict:
    return {}


# --- acting -------------------------------------------------------------------------------------


def command(name: str, text: str, where: str | None = None):
    """`/name text`, typed in the target's war room, or in `where`, or in the bot's DM."""

    def act(world: World, user: str, target: dict):
        channel = target.get("channel") if where == "room" else where
        return world.driver.command(user, name, text.format(**target), channel)

    return act


def click(action_id: str, channel: str | None = None):
    def act(world: World, user: str, target: dict):
        return world.driver.click(user, channel or target["channel"], target["ts"], action_id)

    return act


def loaded(build):
    """A crisis modal, drawn from the crisis as stored."""

    def draw(world: World, target: dict) -> dict:
        with world.sessions() as db:
            return build(db.get(Crisis, target["crisis"]))

    return draw


def escalating(world: World, target: dict) -> dict:
    channel = world.fake.channel_id(TRIAGE)
    view = message_escalate_modal(channel, target["ts"], world.org)
    origin = {"channel": channel, "ts": target["ts"], "author": "amira", "link": None}
    view["private_metadata"] = json.dumps(origin | {"text": target["text"]})
    return view


# --- what was done ------------------------------------------------------------------------------


def found(model, *conditions):
    def done(world: World, user: str, target: dict) -> bool:
        with world.sessions() as db:
            query = select(func.count()).select_from(model)
            return db.scalar(query.where(*(c(target, user) for c in conditions))) > 0

    return done


def archived(world: World, _user: str, target: dict) -> bool:
    with world.sessions() as db:
        return db.get(Crisis, target["crisis"]).archived_at is not None


def closed_by(world: World, user: str, target: dict) -> bool:
    with world.sessions() as db:
        return db.get(Crisis, target["crisis"]).closed_by == user


def declared(world: World, target: dict) -> tuple:
    with world.sessions() as db:
        return (db.scalar(select(func.count()).where(Crisis.title == target["title"])),)


def escalated_message(world: World, user: str, target: dict) -> bool:
    with world.sessions() as db:
        query = select(Escalation.requested_by).join(Mention, Mention.case_id == Escalation.case_id)
        return user in db.scalars(query.where(Mention.external_id.endswith(target["ts"]))).all()


def recorded(world: World, target: dict) -> tuple:
    with world.sessions() as db:
        query = select(func.count()).where(Mention.external_id.endswith(target["ts"]))
        return (db.scalar(query),)


def home_shows(text: str):
    def check(world: World, user: str, *_target) -> str | bool:
        home = world.fake.home(user)
        shown = json.dumps(home["blocks"]) if home else ""
        return shown if text in shown else False

    return check


SCENARIOS = [
    Scenario(
        "crisis-archive", closed_war_room, click("crisis-archive"), archived,
        state=crisis_state, said="Archived",
    ),
    Scenario(
        "surge-declare", surge, click("surge-declare", RAPID_ROOM),
        opened("crisis-declare-modal"), state=nothing, fresh=False,
    ),
    Scenario(
        "crisis-declare-modal", titled,
        submit(lambda _w, t: declare_modal(title=t["title"]),
               {"severity": "SEV3", "summary": "Leeds is down.", "cases": ""}),
        found(Crisis, lambda t, _u: Crisis.title == t["title"],
              lambda _t, user: Crisis.declared_by == user),
        state=declared,
    ),
    Scenario(
        "crisis-update-modal", war_room,
        submit(loaded(update_modal), {"conditions": "LS6 down.", "actions": "Splicing."}),
        found(CrisisUpdate, lambda t, _u: CrisisUpdate.crisis_id == t["crisis"],
              lambda _t, user: CrisisUpdate.posted_by == user),
        state=crisis_state,
    ),
    Scenario(
        "crisis-close-modal", war_room, submit(loaded(close_modal), {"outcome": "Fixed."}),
        closed_by, state=crisis_state,
    ),
    Scenario(
        "/rapid:declare", none, command("/rapid", "declare Leeds outage", RAPID_ROOM),
        opened("crisis-declare-modal"), state=nothing, fresh=False,
    ),
    Scenario(
        "/rapid:status", none, command("/rapid", "status", RAPID_ROOM), state=nothing,
        said="open cris|No crisis is open", fresh=False,
    ),
    Scenario(
        "/rapid:update", war_room, command("/rapid", "update", "room"),
        opened("crisis-update-modal"), state=crisis_state, fresh=False,
    ),
    Scenario(
        "/rapid:role", war_room, command("/rapid", f"role lead <@{OWEN}|owen>", "room"),
        found(CrisisRole, lambda t, _u: CrisisRole.crisis_id == t["crisis"],
              lambda _t, user: CrisisRole.assigned_by == user),
        state=crisis_state, said="is now the lead",
    ),
    Scenario(
        "/rapid:link", with_case, command("/rapid", "link {case}", "room"),
        found(CrisisCase, lambda t, _u: CrisisCase.crisis_id == t["crisis"],
              lambda _t, user: CrisisCase.linked_by == user),
        state=crisis_state, said="is linked to",
    ),
    Scenario(
        "/rapid:close", war_room, command("/rapid", "close", "room"),
        opened("crisis-close-modal"), state=crisis_state, fresh=False,
    ),
    Scenario(
        "/rapid:help", none, command("/rapid", "help", RAPID_ROOM), state=nothing,
        said="/rapid help", fresh=False,
    ),
    Scenario(
        "/social:digest", none, command("/social", "digest"), state=nothing, said="Digest",
        fresh=False,
    ),
    Scenario(
        "/social:help", none, command("/social", "help"), state=nothing, said="social digest",
        fresh=False,
    ),
    Scenario(
        "message-escalate", pasted,
        lambda w, user, t: w.driver.message_shortcut(user, TRIAGE, t["ts"], "message-escalate"),
        opened("message-escalate-modal"), state=recorded, fresh=False,
    ),
    Scenario(
        "message-escalate-modal", pasted,
        submit(escalating, {"department": "billing", "question": "Can you check the bill?"}),
        escalated_message, state=recorded,
    ),
    Scenario(
        "app_home_opened", none, lambda w, user, _t: w.driver.open_home(user),
        home_shows("*Unclaimed*"), state=nothing, fresh=False,
        refused=home_shows("organisation file"),
    ),
]  # fmt: skip


@pytest.mark.usefixtures("no_internet")
def test_who_may_run_crises_use_commands_and_see_the_home(start_replica, fake_slack, sessions):
    world = start_world(start_replica, fake_slack, sessions)
    new_case(world)  # something for the Home tab and the digest to show
    observed, problems = run(world, SCENARIOS, EXPECTED)
    differing = mismatches(observed, EXPECTED)
    assert not differing, "\n".join(differing)
    assert not problems, "\n".join(problems)


class Registrations:
    """An app that only notes what the handler modules register."""

    def __init__(self) -> None:
        self.ids: set[tuple[str, str]] = set()

    def middleware(self, listener):
        return listener

    def error(self, listener):
        return listener

    def __getattr__(self, kind: str):
        if kind not in ("action", "view", "shortcut", "command", "event"):
            raise AttributeError(kind)
        return lambda constraint: self._note(kind, str(constraint))

    def _note(self, kind: str, constraint: str):
        self.ids.add((kind, constraint))
        return lambda listener: listener


def test_the_matrices_cover_every_listener_the_bot_registers():
    app = Registrations()
    handlers.register(app, SimpleNamespace(rapid=SimpleNamespace(command="/rapid")))
    commands = {name for kind, name in app.ids if kind == "command"}
    assert commands == {"/rapid", "/social"}
    registered = {name for kind, name in app.ids if kind != "command"}
    registered |= {f"/rapid:{verb}" for verb in (*rapid.VERBS, "help")}
    registered |= {"/social:digest", "/social:help"}
    rows = [
        *test_security_permissions_cases.EXPECTED,
        *test_security_permissions_replies.EXPECTED,
        *EXPECTED,
    ]
    assert len(rows) == len(set(rows))
    assert sorted(rows) == sorted(registered)
    assert {*ActionId, *CallbackId} <= registered, "an id no listener answers"
