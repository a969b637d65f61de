"""The rapid-action team end to end: /rapid and its modals through the real HTTP server, signed as
Slack signs them, against the fake Slack (which enforces Slack's rules), with a fake
OpenAI-compatible server for the closing summary."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import unit_of_work
from bot.fakellm import FakeLlm
from bot.fakeslack import SlackDriver
from bot.views.text import permalink
from escalation.crises import Crisis, CrisisEvent
from escalation.models import Case, Mention
from escalation.surge import Alert, AlertKind, raise_once
from tests.support import ORG, SIGNING_SECRET, direct_messages, wait_until
from tests.test_workflow import PEOPLE
from tests.test_workflow_e2e import case_id, new_card

AMIRA, BEN, OWEN, HANA, SAM, TOM = (
    PEOPLE[n] for n in ("amira", "ben", "owen", "hana", "sam", "tom")
)
TEAM = {AMIRA, OWEN, HANA, SAM}
TRIAGE, RAPID = "social-triage", "rapid-response"
LEEDS = "@BrightwaveHelp no broadband in Leeds LS6 since 8am, the whole street is down"
REFUSED = (
    "Sorry, only the rapid-action team can {verb}. Ask <@U0AMIRA01>, <@U0HANA001>, <@U0OWEN001>,"
    " <@U0SAM0001>."
)

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def slack(start_replica, fake_slack):
    replica = start_replica()
    return replica, SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)


@pytest.fixture
def llm(monkeypatch):
    with FakeLlm("obedient") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-openai-key")
        monkeypatch.setenv("OPENAI_MODEL", "brightwave-test-model")
        yield fake


def today() -> str:
    return datetime.now(ZoneInfo(ORG.timezone)).date().isoformat()


def org_with(**rapid_team):
    data = ORG.model_dump()
    data["rapid_team"] |= rapid_team
    return type(ORG).model_validate(data)


def ephemerals(fake, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals(user=user)]


def told(fake, user: str, text: str) -> str:
    return wait_until(lambda: next((t for t in ephemerals(fake, user) if text in t), None))


def blocks_of(message: dict) -> str:
    return json.dumps(message.get("blocks") or [], ensure_ascii=False)


def shown(fake, channel: str, marker: str) -> list[dict]:
    """Messages of `channel` whose text or blocks show `marker`."""
    return [m for m in fake.messages(channel) if marker in m["text"] + blocks_of(m)]


def room(fake, channel_id: str) -> dict:
    return next(c for c in fake.channels() if c["id"] == channel_id)


def ready_crisis(sessions, title: str) -> Crisis:
    """The crisis, once its war room is set up."""

    def ready():
        with sessions() as db:
            crisis = db.scalar(select(Crisis).where(Crisis.title == title))
            return crisis if crisis is not None and crisis.ready_at is not None else None

    return wait_until(ready)


def modal_opened(fake, user: str, before: int, callback: str) -> dict:
    view = wait_until(lambda: fake.views(user)[before:])[-1]
    assert view["callback_id"] == callback
    return view


def declare(driver, fake, sessions, title: str, *, cases="", severity="SEV1", user=AMIRA) -> Crisis:
    before = len(fake.views(user))
    driver.command(user, "/rapid", f"declare {title}", RAPID)
    modal_opened(fake, user, before, "crisis-declare-modal")
    summary = "<!channel> Hundreds in Leeds without broadband since 08:40; fibre cut suspected."
    driver.submit(user, values={"severity": severity, "summary": summary, "cases": cases})
    return ready_crisis(sessions, title)


def command_modal(driver, fake, user: str, text: str, channel: str, callback: str) -> dict:
    before = len(fake.views(user))
    driver.command(user, "/rapid", text, channel)
    return modal_opened(fake, user, before, callback)


def escalate(driver, fake, ts: str, department: str) -> None:
    before = len(fake.views(AMIRA))
    driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case_id(fake, ts)}|{department}")
    modal_opened(fake, AMIRA, before, "case-escalate-modal")
    driver.submit(AMIRA, values={"question": "Are they being charged during the outage?"})


def audit(sessions, crisis_id: int) -> list[str]:
    with sessions() as db:
        query = select(CrisisEvent.action).where(CrisisEvent.crisis_id == crisis_id)
        return list(db.scalars(query.order_by(CrisisEvent.id)))


def test_declare_creates_the_war_room_invites_pins_the_brief_and_sets_the_topic(
    slack, fake_slack, sessions
):
    replica, driver = slack
    first = new_card(replica, fake_slack, 1, text=LEEDS)
    second = new_card(replica, fake_slack, 2, text="@BrightwaveHelp Headingley is offline too")
    escalate(driver, fake_slack, first, "billing")
    cases = f"{case_id(fake_slack, first)}, {case_id(fake_slack, second)}"
    taken = f"crisis-{today()}-leeds-outage"
    fake_slack.add_channel(taken, members=[BEN])  # a channel of that name exists already

    crisis = declare(driver, fake_slack, sessions, "Leeds outage", cases=cases)

    assert crisis.channel_name == f"{taken}-2"
    created = fake_slack.calls("conversations.create")
    assert [(c.params["name"], c.error) for c in created] == [
        (taken, "name_taken"),
        (f"{taken}-2", None),
    ]
    war_room = room(fake_slack, crisis.channel_id)
    assert TEAM | {TOM} <= set(war_room["members"])  # the team, and Billing's lead
    assert BEN not in war_room["members"]
    assert war_room["topic"]["value"] == (
        "SEV1 · Leeds outage · lead: to be named · update every 30 min"
    )
    (brief,) = fake_slack.messages(crisis.channel_id)
    assert brief["pinned_to"] == [crisis.channel_id] and brief["ts"] == crisis.brief_ts
    text = blocks_of(brief)
    assert "🚨 🔴 SEV1 · Leeds outage" in text and "*Linked cases*" in text
    assert f"|Case {case_id(fake_slack, first)}>* · P2 · escalated · X @user1" in text
    assert "Headingley is offline" in text
    assert "*Volume so far:* 2 mentions in 2 cases, 2 open." in text
    assert "&lt;!channel&gt; Hundreds in Leeds" in text  # typed text is inert
    assert not [n for n in fake_slack.notifications() if n["channel"] == crisis.channel_id]
    assert audit(sessions, crisis.id) == ["declared", "war_room_created", "war_room_ready"]


def test_update_role_link_status_and_close_with_an_llm_summary(
    llm, start_replica, fake_slack, sessions
):
    replica = start_replica()
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    first = new_card(replica, fake_slack, 1, text=LEEDS)
    second = new_card(replica, fake_slack, 2, text="@BrightwaveHelp Kirkstall has no wifi either")
    crisis = declare(driver, fake_slack, sessions, "Leeds outage", cases=case_id(fake_slack, first))
    war_room = crisis.channel_id

    # role: assigned in the war room; the lead gets the role's instructions by direct message.
    driver.command(AMIRA, "/rapid", "role lead <@U0OWEN001|owen>", war_room)
    told(fake_slack, AMIRA, "Owen Price is now the lead of “Leeds outage”")
    dm = wait_until(lambda: direct_messages(fake_slack, OWEN))[-1]
    assert "You are the *lead* of the crisis" in blocks_of(dm) and "/rapid update" in blocks_of(dm)
    wait_until(lambda: shown(fake_slack, war_room, "Owen Price is now the lead"))
    assert "lead: Owen Price" in room(fake_slack, war_room)["topic"]["value"]

    # link: the triage card's link, as Slack sends a pasted link in a command.
    with sessions() as db:
        card = db.get(Case, int(case_id(fake_slack, second)))
        address = permalink(fake_slack.root_url, card.triage_channel, card.triage_ts)
    driver.command(SAM, "/rapid", f"link <{address}>", RAPID)  # the one open crisis
    told(fake_slack, SAM, f"Case {card.id} is linked to “Leeds outage”")
    wait_until(lambda: shown(fake_slack, war_room, "Kirkstall has no wifi"))

    # update: a modal, posted in the war room and in the rapid-response channel.
    command_modal(driver, fake_slack, OWEN, "update", war_room, "crisis-update-modal")
    driver.submit(OWEN, values={
        "conditions": "LS5 and LS6 down; 2,300 homes.", "actions": "Field Ops splicing the fibre.",
        "needs": "A holding line from Comms.",
    })  # fmt: skip
    posted = wait_until(lambda: shown(fake_slack, war_room, "📣 Update"))
    assert "Field Ops splicing the fibre." in blocks_of(posted[0])
    elsewhere = wait_until(lambda: shown(fake_slack, RAPID, "📣 Update"))
    assert f"war room: <#{war_room}>" in blocks_of(elsewhere[0])

    # status: anyone may ask; the answer is private.
    driver.command(BEN, "/rapid", "status", TRIAGE)
    line = told(fake_slack, BEN, "open crisis")
    status = json.dumps(fake_slack.ephemerals(user=BEN)[-1]["blocks"], ensure_ascii=False)
    assert "Leeds outage" in status and "2 mentions, 2 of 2 cases open, last update" in status
    assert "lead: Owen Price" in status and line == "1 open crisis"

    # close: a modal, then the LLM's summary and the timeline, with an archive button.
    command_modal(driver, fake_slack, HANA, "close", war_room, "crisis-close-modal")
    driver.submit(HANA, values={"outcome": "Fibre spliced; all of Leeds back by 11:00."})
    closing = wait_until(lambda: shown(fake_slack, war_room, "✅ Closed"))[0]
    text = blocks_of(closing)
    assert "🤖 AI summary (brightwave-test-model)" in text
    assert "drew 2 mentions across 2 cases" in text and "posted 1 updates" in text
    assert "made Owen Price the lead" in text and "linked case" in text
    asked = llm.completions()[-1]
    assert asked.response_format is None and "<crisis_timeline>" in asked.content("user")
    assert wait_until(lambda: shown(fake_slack, RAPID, "✅ Closed"))

    driver.click(BEN, war_room, closing["ts"], "crisis-archive")
    told(fake_slack, BEN, REFUSED.format(verb="archive a war room"))
    driver.click(HANA, war_room, closing["ts"], "crisis-archive")
    told(fake_slack, HANA, f"Archived <#{war_room}>.")
    assert room(fake_slack, war_room)["is_archived"]
    assert audit(sessions, crisis.id) == [
        "declared", "war_room_created", "war_room_ready", "role_assigned", "case_linked",
        "update_posted", "closed", "summary_written", "archived",
    ]  # fmt: skip
    with sessions() as db:
        stored = db.get(Crisis, crisis.id)
        assert stored.summary_origin == "llm (brightwave-test-model)"
        assert stored.outcome == "Fibre spliced; all of Leeds back by 11:00."


def test_without_an_llm_the_summary_is_plain(slack, fake_slack, sessions):
    replica, driver = slack
    crisis = declare(driver, fake_slack, sessions, "Router fires", severity="SEV2")
    command_modal(driver, fake_slack, SAM, "close", RAPID, "crisis-close-modal")
    driver.submit(SAM)
    closing = wait_until(lambda: shown(fake_slack, crisis.channel_id, "✅ Closed"))[0]
    text = blocks_of(closing)
    assert "📄 Summary" in text and "Router fires (SEV2) ran" in text
    assert "It drew 0 mentions across 0 linked cases." in text


def test_a_non_member_is_refused_politely(slack, fake_slack, sessions):
    replica, driver = slack
    for command, verb in [
        ("declare Leeds outage", "declare a crisis"),
        ("update", "post crisis updates"),
        ("close", "close a crisis"),
    ]:
        driver.command(BEN, "/rapid", command, TRIAGE)
        told(fake_slack, BEN, REFUSED.format(verb=verb))
    crisis = declare(driver, fake_slack, sessions, "Leeds outage")
    driver.command(BEN, "/rapid", "role lead <@U0BEN0001|ben>", crisis.channel_id)
    told(fake_slack, BEN, REFUSED.format(verb="assign crisis roles"))
    assert fake_slack.views(BEN) == []
    with sessions() as db:
        assert db.scalars(select(Crisis.title)).all() == ["Leeds outage"]
    assert audit(sessions, crisis.id) == ["declared", "war_room_created", "war_room_ready"]


def test_help_what_was_not_understood_and_which_crisis(slack, fake_slack, sessions):
    replica, driver = slack
    driver.command(AMIRA, "/rapid", "", RAPID)
    told(fake_slack, AMIRA, "/rapid help")
    help_text = json.dumps(fake_slack.ephemerals(user=AMIRA)[-1]["blocks"])
    assert "/rapid declare [title]" in help_text and "did not understand" not in help_text
    driver.command(AMIRA, "/rapid", "dance <!here>", RAPID)
    wait_until(lambda: len(fake_slack.ephemerals(user=AMIRA)) == 2)
    answer = json.dumps(fake_slack.ephemerals(user=AMIRA)[-1]["blocks"], ensure_ascii=False)
    assert "I did not understand “dance &lt;!here&gt;”" in answer and "/rapid status" in answer
    driver.command(AMIRA, "/rapid", "update", RAPID)
    told(fake_slack, AMIRA, "No crisis is open. `declare` one first.")
    driver.command(AMIRA, "/rapid", "role boss <@U0OWEN001|owen>", RAPID)
    told(fake_slack, AMIRA, "Say which role and who: `/rapid role lead|comms|scribe @person`.")

    leeds = declare(driver, fake_slack, sessions, "Leeds outage")
    declare(driver, fake_slack, sessions, "Data leak claim", severity="SEV2")
    driver.command(AMIRA, "/rapid", "link 1", RAPID)
    told(
        fake_slack, AMIRA, "2 crises are open: run the command in the war room of the one you mean"
    )
    driver.command(AMIRA, "/rapid", "link nonsense", leeds.channel_id)
    told(fake_slack, AMIRA, "Say which case")


def test_the_surge_declare_button_opens_the_declare_modal_prefilled(slack, fake_slack, sessions):
    replica, driver = slack
    cards = [new_card(replica, fake_slack, n, text=f"{LEEDS} ({n})") for n in (1, 2)]
    with sessions() as db:
        mentions = list(db.scalars(select(Mention).order_by(Mention.id)))
    now = datetime.now(UTC)
    reason = "15 mentions about Leeds in the last 20 min, against 1.2 usually (from the 6 h before)"
    alert = Alert(
        kind=AlertKind.VOLUME, topic="place:leeds", window_start=now - timedelta(minutes=20),
        window_end=now, count=15, expected=1.2, negative_share=0.9, baseline_negative_share=None,
        sample_ids=tuple(m.id for m in mentions), reason=reason,
    )  # fmt: skip
    with unit_of_work(sessions) as db:
        surge_id = raise_once(db=db, alert=alert, cooldown=timedelta(hours=2)).id
    button = {"type": "button", "action_id": "surge-declare", "value": str(surge_id),
              "text": {"type": "plain_text", "text": "Declare crisis"}}  # fmt: skip
    ts = fake_slack.add_message(
        RAPID, fake_slack.bot_user_id, "🌊 Surge: Leeds",
        blocks=[{"type": "actions", "block_id": "surge-actions", "elements": [button]}],
    )  # fmt: skip

    driver.click(BEN, RAPID, ts, "surge-declare")
    told(fake_slack, BEN, REFUSED.format(verb="declare a crisis"))
    driver.click(AMIRA, RAPID, ts, "surge-declare")
    view = modal_opened(fake_slack, AMIRA, 0, "crisis-declare-modal")
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    linked = [case_id(fake_slack, card) for card in cards]
    assert inputs["title"]["initial_value"] == "Surge: Leeds"
    assert inputs["summary"]["initial_value"] == reason
    assert inputs["cases"]["initial_value"] == ", ".join(linked)
    assert inputs["severity"]["initial_option"]["value"] == "SEV2"

    driver.submit(AMIRA)  # as prefilled
    crisis = ready_crisis(sessions, "Surge: Leeds")
    with sessions() as db:
        stored = db.get(Crisis, crisis.id)
        assert [str(link.case_id) for link in stored.links] == linked
        declared = db.scalars(select(CrisisEvent).where(CrisisEvent.action == "declared")).one()
        assert declared.data["surge_alert"] == surge_id
    assert crisis.channel_name == f"crisis-{today()}-surge-leeds"


def test_a_war_room_set_up_half_way_is_continued_not_duplicated(
    start_replica, fake_slack, sessions
):
    replica = start_replica(delivery_lease_seconds=1)  # the setup's lease, too
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    fake_slack.fail("conversations.invite", status=500, times=1)
    crisis = declare(driver, fake_slack, sessions, "Leeds outage")
    assert [c.ok for c in fake_slack.calls("conversations.create")] == [True]
    assert len(fake_slack.messages(crisis.channel_id)) == 1  # one brief
    assert TEAM <= set(room(fake_slack, crisis.channel_id)["members"])
    assert audit(sessions, crisis.id) == [
        "declared", "war_room_created", "setup_failed", "war_room_ready",
    ]  # fmt: skip


def test_a_silent_war_room_is_reminded_once_across_replicas(start_replica, fake_slack, sessions):
    org = org_with(update_every={"SEV1": "3s", "SEV2": "1h", "SEV3": "2h"})
    replica = start_replica(org=org)
    start_replica(org=org)  # a second replica ticks too
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    crisis = declare(driver, fake_slack, sessions, "Leeds outage")
    driver.command(AMIRA, "/rapid", "role lead <@U0OWEN001|owen>", crisis.channel_id)

    first = wait_until(lambda: shown(fake_slack, crisis.channel_id, "⏰"), timeout=10)
    time.sleep(1.0)
    assert len(shown(fake_slack, crisis.channel_id, "⏰")) == 1  # once, however many replicas
    assert "a SEV1 crisis posts one every 3 s" in first[0]["text"]
    assert "<@U0OWEN001>, time for `/rapid update`." in first[0]["text"]

    command_modal(driver, fake_slack, OWEN, "update", crisis.channel_id, "crisis-update-modal")
    driver.submit(OWEN, values={"conditions": "Down.", "actions": "Splicing."})
    wait_until(lambda: shown(fake_slack, crisis.channel_id, "📣 Update"))
    count = len(shown(fake_slack, crisis.channel_id, "⏰"))
    time.sleep(1.5)  # the update restarted the cadence: nothing for 3 s
    assert len(shown(fake_slack, crisis.channel_id, "⏰")) == count
    wait_until(lambda: len(shown(fake_slack, crisis.channel_id, "⏰")) == count + 1, timeout=10)


def test_members_of_the_user_group_are_on_the_team(start_replica, fake_slack, sessions):
    fake_slack.set_usergroup("S0RAPID01", [BEN])
    replica = start_replica(org=org_with(usergroup="S0RAPID01"))
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    crisis = declare(driver, fake_slack, sessions, "Leeds outage", user=BEN)
    assert TEAM | {BEN} <= set(room(fake_slack, crisis.channel_id)["members"])
    assert fake_slack.calls("usergroups.users.list")
