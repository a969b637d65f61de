"""Who may draft, approve, post and mark a case's public reply, for every role (see
tests/test_security_permissions_cases.py for how to read the matrix).

Ben (an agent) owns every case and approved its reply; the P1 case is a negative post from an
account with 120,000 followers, so its reply awaits a second approver (a lead or a manager).
X is switched on, pointed at a loopback server that answers nothing it knows: a post that
gets as far as X is "uncertain", which is enough to see who got that far.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.views.replies import mark_replied_modal, reply_edit_modal
from escalation.models import Reply, Suggestion
from tests.cassette_server import CassetteServer
from tests.security_matrix import (
    Scenario,
    fast_limits,
    mismatches,
    opened,
    parse,
    run,
    start_world,
)
from tests.security_targets import (
    TRIAGE,
    World,
    case_in,
    drafts,
    reply,
)

EXPECTED = parse("""
reply-suggest                 ok    no    ok    ok    ok    no    no
reply-regenerate              ok    no    ok    ok    ok    no    no
reply-use                     ok    no    ok    ok    ok    no    no
reply-edit-draft              ok    no    ok    ok    ok    no    no
reply-edit-modal              ok    no    ok    ok    ok    no    no
reply-approve-second          self  no    ok    ok    ok    no    no
reply-edit                    ok    no    ok    ok    ok    no    no
reply-post                    ok    no    ok    ok    ok    no    no
reply-mark                    ok    no    ok    ok    ok    no    no
reply-mark-modal              ok    no    ok    ok    ok    no    no
""")  # owner agent lead  other manager rapid stranger

P1 = {
    "text": "@BrightwaveHelp my broadband has been down for three days, useless",
    "author": {"handle": "loud_voice", "display_name": "Loud", "followers": 120_000},
}
EDITED = (
    "Sorry to hear about this, we know how frustrating it is. Please send us a DM and we'll "
    "look into it with you. ^{initials}"
)


@pytest.fixture
def slack_limits():
    return fast_limits()


@pytest.fixture
def x_account(monkeypatch):
    """The X account's keys, and X itself on loopback (answering 599 to every post)."""
    for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        monkeypatch.setenv(name, f"matrix-{name.lower()}")
    with CassetteServer("x_reply_unavailable.yaml") as server:
        monkeypatch.setenv("X_API_URL", server.url)
        yield server


def click(action_id: str, message: str):
    """Press `action_id` on the case's triage card, drafts or reply card (`message`)."""

    def act(world: World, user: str, target: dict):
        return world.driver.click(user, TRIAGE, target[message], action_id)

    return act


def submit(build, values):
    def act(world: World, user: str, target: dict):
        world.show(user, build(world, user, target))
        return world.driver.submit(user, values=values(world, user))

    return act


def edit_modal(world: World, user: str, target: dict) -> dict:
    meta = {"case": target["case"], "suggestion": target["suggestion"], "index": 0}
    return reply_edit_modal("A draft", "x", world.org.actor(user).initials, meta)


def suggested_by(world: World, user: str, target: dict) -> bool:
    """New drafts for the case, asked for by them (not the ones the target came with)."""
    with world.sessions() as db:
        query = select(Suggestion.id).where(Suggestion.case_id == target["case"])
        query = query.where(Suggestion.requested_by == user)
        return bool(set(db.scalars(query)) - {target.get("suggestion")})


def reply_is(test):
    def done(world: World, user: str, target: dict) -> bool:
        with world.sessions() as db:
            found = db.scalars(select(Reply).where(Reply.case_id == target["case"])).all()
            return any(test(r, user) for r in found)

    return done


def claimed(world: World) -> dict:
    return case_in(world, "claimed", "reply-suggest")


def with_drafts(button: str):
    return lambda world: drafts(world, button)


def with_reply(button: str, **record):
    return lambda world: reply(world, button, **record)


SCENARIOS = [
    Scenario(
        "reply-suggest",
        claimed,
        click("reply-suggest", "ts"),
        suggested_by,
        said="Drafting replies",
    ),
    Scenario(
        "reply-regenerate",
        with_drafts("reply-regenerate"),
        click("reply-regenerate", "drafts"),
        suggested_by,
        said="Drafting replies",
    ),
    Scenario(
        "reply-use",
        with_drafts("reply-use"),
        click("reply-use", "drafts"),
        reply_is(lambda r, user: r.approved_by == user),
        said="Approved",
    ),
    Scenario(
        "reply-edit-draft",
        with_drafts("reply-edit-draft"),
        click("reply-edit-draft", "drafts"),
        opened("reply-edit-modal"),
        fresh=False,
    ),
    Scenario(
        "reply-edit-modal",
        with_drafts("reply-edit-draft"),
        submit(edit_modal, lambda w, u: {"text": EDITED.format(initials=w.org.actor(u).initials)}),
        reply_is(lambda r, user: r.approved_by == user and r.edited),
    ),
    Scenario(
        "reply-approve-second",
        with_reply("reply-approve-second", **P1),
        click("reply-approve-second", "card"),
        reply_is(lambda r, user: r.second_approver == user),
        said="Approved as second approver",
    ),
    Scenario(
        "reply-edit",
        with_reply("reply-edit"),
        click("reply-edit", "card"),
        opened("reply-edit-modal"),
        fresh=False,
    ),
    Scenario(
        "reply-post",
        with_reply("reply-post"),
        click("reply-post", "card"),
        reply_is(lambda r, user: r.posted_by == user and r.status != "approved"),
        said="[Pp]osted",
    ),
    Scenario(
        "reply-mark",
        with_reply("reply-mark"),
        click("reply-mark", "card"),
        opened("reply-mark-modal"),
        fresh=False,
    ),
    Scenario(
        "reply-mark-modal",
        with_reply("reply-mark"),
        submit(
            lambda _w, _u, t: mark_replied_modal(t["case"], t["reply"]),
            lambda _w, _u: {"link": "https://x.com/BrightwaveHelp/status/2125200000000000077"},
        ),
        reply_is(lambda r, user: r.status == "marked" and r.posted_by == user),
    ),
]


@pytest.mark.usefixtures("no_internet", "x_account")
def test_who_may_draft_approve_post_and_mark_replies(start_replica, fake_slack, sessions):
    world = start_world(start_replica, fake_slack, sessions)
    observed, problems = run(world, SCENARIOS, EXPECTED)
    differing = mismatches(observed, EXPECTED)
    assert not differing, "\n".join(differing)
    assert not problems, "\n".join(problems)
