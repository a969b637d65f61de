"""Every Slack request delivered twice: once more with Slack's retry headers (`X-Slack-Retry-Num`,
as Slack resends an event it thinks was not acknowledged) and once more byte for byte, the same
signature and timestamp and no retry header (as a load balancer or Slack resends a request
after a timeout). Clicks, modal submissions, slash commands, shortcuts and events each take
effect once, and nobody is told that something went wrong."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.fakeslack import SlackDriver
from escalation.crises import CrisisCase
from escalation.models import CaseEvent, Escalation
from tests.support import SIGNING_SECRET, direct_messages, wait_until
from tests.test_rapid_e2e import audit, declare, shown
from tests.test_workflow import PEOPLE
from tests.test_workflow_e2e import case_id, new_card, thread

AMIRA, BEN, TOM, OWEN = (PEOPLE[n] for n in ("amira", "ben", "tom", "owen"))
TRIAGE = "social-triage"
APOLOGY = "Something went wrong on our side"

pytestmark = pytest.mark.usefixtures("no_internet")


class TwiceDriver(SlackDriver):
    """A SlackDriver that can deliver its last request again, byte for byte."""

    def _post(self, body: bytes, headers: dict[str, str]):
        self.last = (body, dict(headers))
        return super()._post(body, headers)

    def again(self):
        body, headers = self.last
        assert "X-Slack-Retry-Num" not in headers
        return super()._post(body, headers)


@pytest.fixture
def twice(start_replica, fake_slack, caplog):
    caplog.set_level(logging.INFO)
    replica = start_replica()
    driver = TwiceDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    yield replica, driver
    failures = [r for r in caplog.records if "listener failed" in r.getMessage()]
    assert failures == [], "a second delivery must not fail a listener"
    apologies = [e for e in fake_slack.ephemerals() if APOLOGY in e["text"]]
    assert apologies == [], "nobody is told that something went wrong"


def events(sessions, action: str) -> int:
    with sessions() as db:
        query = select(func.count()).select_from(CaseEvent).where(CaseEvent.action == action)
        return db.scalar(query)


def ephemerals(fake, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals(user=user)]


def test_clicks_and_submissions_delivered_twice_take_effect_once(twice, fake_slack, sessions):
    replica, driver = twice
    ts = new_card(replica, fake_slack)

    assert driver.click(AMIRA, TRIAGE, ts, "case-claim").status == 200
    assert driver.again().status == 200
    assert driver.click(AMIRA, TRIAGE, ts, "case-claim", retry=1).status == 200

    case = case_id(fake_slack, ts)
    assert driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case}|billing").ok
    assert driver.again().ok
    wait_until(lambda: fake_slack.views(AMIRA))
    driver.submit(AMIRA, values={"question": "Was the customer charged twice?"})
    assert driver.again().status == 200
    card = wait_until(lambda: fake_slack.messages("esc-billing"))[0]

    driver.click(TOM, "esc-billing", card["ts"], "escalation-acknowledge")
    driver.again()
    driver.click(TOM, "esc-billing", card["ts"], "escalation-acknowledge", retry=2)

    wait_until(lambda: len(thread(fake_slack, ts)) >= 3)
    wait_until(lambda: replica.worker.queue_sizes()["pending"] == 0)
    assert [events(sessions, a) for a in ("claim", "escalate", "acknowledge")] == [1, 1, 1]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Escalation)) == 1
    assert len(fake_slack.views(AMIRA)) == 1, "one escalation modal"
    assert len(fake_slack.messages("esc-billing")) == 1
    assert len(thread(fake_slack, ts)) == 3, "one line each: claimed, escalated, acknowledged"
    assert ephemerals(fake_slack, AMIRA) == ["You own this case now."]


def test_commands_delivered_twice_take_effect_once(twice, fake_slack, sessions):
    replica, driver = twice
    ts = new_card(replica, fake_slack)

    declare_twice = TwiceDeclare(driver)
    crisis = declare(declare_twice, fake_slack, sessions, "Leeds outage")
    assert len(fake_slack.views(AMIRA)) == 1, "one declare modal"
    war_room = crisis.channel_id

    driver.command(AMIRA, "/rapid", "role lead <@U0OWEN001|owen>", war_room)
    driver.again()
    driver.command(AMIRA, "/rapid", f"link {case_id(fake_slack, ts)}", war_room)
    driver.again()
    wait_until(lambda: len(ephemerals(fake_slack, AMIRA)) >= 2)
    wait_until(lambda: shown(fake_slack, war_room, "@user1"))
    wait_until(lambda: direct_messages(fake_slack, OWEN))

    assert audit(sessions, crisis.id) == [
        "declared", "war_room_created", "war_room_ready", "role_assigned", "case_linked",
    ]  # fmt: skip
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(CrisisCase)) == 1
    assert len(direct_messages(fake_slack, OWEN)) == 1, "the lead's instructions, once"
    assert len(shown(fake_slack, war_room, "is now the lead")) == 1
    assert [t for t in ephemerals(fake_slack, AMIRA) if "linked" in t] == [
        f"Case {case_id(fake_slack, ts)} is linked to “Leeds outage”."
    ]


class TwiceDeclare:
    """The driver as `declare` sees it: each command and submission is delivered twice."""

    def __init__(self, driver: TwiceDriver) -> None:
        self.driver = driver

    def command(self, *args, **kwargs):
        first = self.driver.command(*args, **kwargs)
        assert self.driver.again().status == 200
        return first

    def submit(self, *args, **kwargs):
        first = self.driver.submit(*args, **kwargs)
        assert self.driver.again().status == 200
        return first


def test_events_and_shortcuts_delivered_twice_take_effect_once(twice, fake_slack, sessions):
    replica, driver = twice
    new_card(replica, fake_slack)

    opened = driver.open_home(AMIRA)
    driver.again()
    driver.event(opened.sent["event"], event_id=opened.sent["event_id"], retry=1)
    wait_until(lambda: fake_slack.home(AMIRA))

    message = fake_slack.add_message("esc-care", BEN, "Customer on the phone: billed twice")
    driver.message_shortcut(BEN, "esc-care", message, callback_id="message-escalate")
    driver.again()
    wait_until(lambda: fake_slack.views(BEN))
    driver.submit(BEN, values={"department": "billing", "question": "Refund status?"})
    driver.again()
    wait_until(lambda: fake_slack.messages("esc-billing"))
    wait_until(lambda: replica.worker.queue_sizes()["pending"] == 0)

    published = [c for c in fake_slack.calls("views.publish") if c.params.get("user_id") == AMIRA]
    assert len(published) == 1, "one Home tab drawn for one opening"
    assert len(fake_slack.views(BEN)) == 1, "one modal for one shortcut"
    assert len(fake_slack.messages("esc-billing")) == 1
    assert len(fake_slack.messages(TRIAGE)) == 2, "the mention's card and the message's"
    assert events(sessions, "escalate") == 1
