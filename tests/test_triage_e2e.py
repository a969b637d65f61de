"""Triage on the card, and one case per conversation, through the real HTTP server."""

from __future__ import annotations

import json

from bot.fakeslack import SlackDriver
from tests.support import SIGNING_SECRET, mention_record, post_ingest, wait_until
from tests.test_workflow import PEOPLE

TRIAGE = "social-triage"


def blocks_of(message: dict) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def test_three_mentions_of_one_conversation_make_one_card_counting_three(start_replica, fake_slack):
    replica = start_replica()
    author = {"handle": "leeds_lou", "display_name": "Lou", "followers": 40}
    for n, text in enumerate(["@BrightwaveHelp internet down", "still down", "3 hours now!!"]):
        record = mention_record(n, author=author, text=text, conversation_id="c-77")
        assert post_ingest(replica.url, record).status == 202
    other = mention_record(9, author=author, text="different thread", conversation_id="c-99")
    assert post_ingest(replica.url, other).status == 202
    wait_until(lambda: len(fake_slack.messages(TRIAGE)) == 2)
    card = next(m for m in fake_slack.messages(TRIAGE) if "internet down" in blocks_of(m))

    def thread() -> str:
        return "\n".join(blocks_of(m) for m in fake_slack.replies(TRIAGE, card["ts"]))

    wait_until(lambda: "still down" in thread() and "3 hours now!!" in thread())
    wait_until(
        lambda: "3 mentions in this conversation" in blocks_of(fake_slack.messages(TRIAGE)[0])
    )
    # The later mentions in the thread, in order: a message each, or one for both when the
    # second arrived before the first was sent (a busy case's mentions are batched).
    assert thread().index("still down") < thread().index("3 hours now!!")
    assert len(fake_slack.replies(TRIAGE, card["ts"])) in (1, 2)
    assert "internet down" not in thread() and "different thread" not in thread()


def test_the_card_shows_triage_and_the_suggested_department_is_one_click_away(
    start_replica, fake_slack
):
    replica = start_replica()
    threat = "@BrightwaveHelp refund the £240 by Friday or I'm taking you to small claims court"
    assert post_ingest(replica.url, mention_record(1, text=threat)).status == 202
    card = wait_until(lambda: fake_slack.messages(TRIAGE))[0]
    shown = blocks_of(card)
    assert "*P1*" in shown and "legal threat" in shown
    assert "suggested: *Legal &amp; Compliance*" in shown
    assert "reply due in 1" in shown  # P1: 15 minutes, drawn a moment after it arrived
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    driver.click(PEOPLE["amira"], TRIAGE, card["ts"], "case-escalate-suggested")
    modal = wait_until(lambda: fake_slack.views(PEOPLE["amira"]))[0]
    assert "Escalate to *Legal &amp; Compliance*" in json.dumps(modal["blocks"], ensure_ascii=False)
