"""Slack's control syntax typed by customers (and pasted or typed by staff) never reaches Slack
as syntax: `<!channel>`, `<@U...>`, `<#C...>`, `<!subteam^...>` and `<https://evil|label>`
stay text wherever the bot shows them.

Hostile mentions go through everything that shows a mention: triage cards and their threads,
escalation cards, reminders, reply drafts, the reply's card and modals, `/social digest`, a
war room's brief and updates (`/rapid declare` linking the cases), the App Home, a surge's
alert and roll-up, and a Slack message escalated with the message shortcut. Then every call
the fake Slack recorded is read, every string field that Slack renders as mrkdwn (plain_text
objects and input values are shown as typed, so they may hold the text as it is): none holds
control syntax the bot did not write itself. What the bot writes is told apart by what was
planted: user ids no one in the organisation has, channel ids no channel has, an evil host,
and the marker `zq:` in front of a real person's id.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.fakeslack import Call, SlackDriver
from bot.views.digest import themes_text
from bot.views.replies import drafts_message
from escalation.models import Case, Deadline, Mention, Nag, Suggestion
from tests.support import ORG, SIGNING_SECRET, mention_record, post_ingest, request, wait_until

AMIRA, BEN, TOM, SAM = "U0AMIRA01", "U0BEN0001", "U0TOM0001", "U0SAM0001"
TRIAGE, RAPID = "social-triage", "rapid-response"
HOSTILE = (
    "<!channel> <!here> <!everyone> zq:<@U0AMIRA01> <@U0EVIL001> <@W0EVIL002|boss> <#C123> "
    "<#C0EVIL003|general> <!subteam^S0LEGAL|legal-team> <https://evil.example/login|click> "
    "<mailto:x@evil.example|mail> zq&lt;!here&gt; zqAT&T *bold* _it_ ~gone~ `code` "
    "@channel @here @everyone @amira #general"
)
TEXT = f"@BrightwaveHelp my broadband is down again {HOSTILE} sort it out"
STAFF_IDS = {p.slack_id for p in ORG.people.values()}
INERT_KEYS = frozenset(  # never rendered as mrkdwn: references, input values, metadata, addresses
    (
        "action_id block_id callback_id value initial_value private_metadata metadata url "
        "image_url alt_text external_id trigger_id channel ts thread_ts user user_id users name "
        "view_id hash file files"
    ).split()
)
SYNTAX = re.compile(r"<(?:[!@#]|https?:|mailto:)[^<>]*>?")
PLANTED = ("zq:<@U0AMIRA01>", "zq&lt;!here", "zqAT&T")  # typed text that must stay escaped


def mrkdwn_strings(value, key: str | None = None):
    """(key, text) for every string Slack would read as mrkdwn, however deep."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return
        for name, item in value.items():
            yield from mrkdwn_strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_strings(item, key)
    elif isinstance(value, str) and key not in INERT_KEYS:
        yield key, value


def leaks(calls, channels: set[str]) -> list[str]:
    """Control syntax in what the bot sent that it did not write itself."""
    found = []
    for call in calls:
        for key, text in mrkdwn_strings(call.params):
            bad = [s for s in SYNTAX.findall(text) if not ours(s, channels)]
            bad += [p for p in PLANTED if p in text]
            found += [f"{call.method} {key}: {s!r} in {text[:160]!r}" for s in bad]
    return found


def ours(syntax: str, channels: set[str]) -> bool:
    """Syntax the bot writes: dates, staff it names, channels that exist, its own links."""
    if syntax.startswith("<!date^"):
        return True
    if match := re.fullmatch(r"<@([UW][A-Z0-9]+)>", syntax):
        return match.group(1) in STAFF_IDS
    if match := re.fullmatch(r"<#([CG][A-Z0-9]+)>", syntax):
        return match.group(1) in channels
    return syntax.startswith(("<http://", "<https://")) and "evil" not in syntax


def ingest(replica, n: int, **fields) -> int:
    answer = post_ingest(replica.url, mention_record(n, **fields))
    assert answer.status == 202, answer.body
    return answer.body["id"]


def case_of(sessions, mention_id: int) -> tuple[int, str]:
    def posted():
        with sessions() as db:
            query = select(Case.id, Case.triage_ts).join(Mention, Mention.case_id == Case.id)
            row = db.execute(query.where(Mention.id == mention_id)).first()
            return row if row and row[1] else None

    return wait_until(posted)


def settled(replica) -> bool:
    return request(f"{replica.url}/healthz").body["outbox_pending"] == 0


def newest_modal(fake, user: str, callback: str, before: int) -> dict:
    views = wait_until(
        lambda: [v for v in fake.views(user)[before:] if v["callback_id"] == callback]
    )
    return views[-1]


def said(fake, method: str, marker: str) -> str:
    """Everything the bot sent with `method` that shows `marker`, as one text."""
    shown = [json.dumps(c.params, ensure_ascii=False) for c in fake.calls(method)]
    return "\n".join(s for s in shown if marker in s)


@pytest.mark.usefixtures("no_internet")
def test_control_syntax_from_mentions_never_reaches_slack(start_replica, fake_slack, sessions):
    replica = start_replica()
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    author = {"handle": "<!channel>", "display_name": f"zq:<@U0AMIRA01> {HOSTILE}"[:100]}
    loud = ingest(
        replica, 1, text=TEXT, conversation_id="c1", author=author | {"followers": 90_000}
    )
    case, ts = case_of(sessions, loud)
    again = ingest(
        replica,
        2,
        text=f"still waiting {HOSTILE}",
        conversation_id="c1",
        author=author | {"followers": 90_000},
    )
    for n, handle in enumerate(("<@U0EVIL001>", "zq&lt;!here&gt;", "<https://evil.example|x>")):
        ingest(replica, 3 + n, text=f"{HOSTILE} billing again", author={"handle": handle})
    wait_until(lambda: case_of(sessions, again)[0] == case)

    # Triage: claimed, escalated to Billing with the hostile text as the question, answered.
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    before = len(fake_slack.views(AMIRA))
    driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case}|billing")
    newest_modal(fake_slack, AMIRA, "case-escalate-modal", before)
    driver.submit(AMIRA, values={"question": f"Refund? {HOSTILE}", "note": HOSTILE})
    department = wait_until(lambda: fake_slack.messages("esc-billing"))[0]
    driver.click(TOM, "esc-billing", department["ts"], "escalation-acknowledge")
    driver.click(TOM, "esc-billing", department["ts"], "escalation-answer")
    newest_modal(fake_slack, TOM, "escalation-answer-modal", 0)
    driver.submit(TOM, values={"answer": f"Refunded. {HOSTILE}"})

    # The owner's reminder, by direct message.
    with sessions() as db, db.begin():
        half = select(Nag).join(Deadline).where(Deadline.case_id == case, Nag.step == "half")
        db.scalar(half).due_at = datetime.now(UTC) - timedelta(seconds=1)

    # Reply drafts, the edit modal, an approved reply and its card, the mark-replied modal.
    driver.click(AMIRA, TRIAGE, ts, "reply-suggest")
    drafts = wait_until(
        lambda: [
            m for m in fake_slack.replies(TRIAGE, ts) if "Reply drafts" in json.dumps(m["blocks"])
        ]
    )[0]
    before = len(fake_slack.views(AMIRA))
    driver.click(AMIRA, TRIAGE, drafts["ts"], "reply-edit-draft")
    newest_modal(fake_slack, AMIRA, "reply-edit-modal", before)
    driver.submit(AMIRA, values={"text": f"{HOSTILE} ^AK"})  # refused by the checks: stays open
    driver.click(AMIRA, TRIAGE, drafts["ts"], "reply-use")
    card = wait_until(
        lambda: [
            m for m in fake_slack.replies(TRIAGE, ts) if "Reply to @" in json.dumps(m["blocks"])
        ]
    )[0]
    driver.click(SAM, TRIAGE, card["ts"], "reply-approve-second")

    # A colleague's Slack message, with Slack's own syntax in it, escalated with the shortcut.
    pasted = fake_slack.add_message(TRIAGE, BEN, f"From a customer's email: {HOSTILE}")
    before = len(fake_slack.views(BEN))
    driver.message_shortcut(BEN, TRIAGE, pasted, "message-escalate")
    newest_modal(fake_slack, BEN, "message-escalate-modal", before)
    driver.submit(BEN, values={"department": "billing", "question": f"Check? {HOSTILE}"})

    # The digest, a war room linking the cases, an update, the status, the App Home.
    driver.command(SAM, "/social", "digest")
    driver.command(AMIRA, "/rapid", "declare Broadband down", RAPID)
    newest_modal(fake_slack, AMIRA, "crisis-declare-modal", 0)
    driver.submit(AMIRA, values={"severity": "SEV1", "summary": HOSTILE, "cases": f"{case}"})
    room = wait_until(
        lambda: [c["id"] for c in fake_slack.channels() if c["name"].startswith("crisis-")]
    )[0]
    driver.command(AMIRA, "/rapid", f"link {case + 2}", room)
    before = len(fake_slack.views(AMIRA))
    driver.command(AMIRA, "/rapid", "update", room)
    newest_modal(fake_slack, AMIRA, "crisis-update-modal", before)
    driver.submit(AMIRA, values={"conditions": HOSTILE, "actions": HOSTILE, "needs": HOSTILE})
    driver.command(SAM, "/rapid", "status", TRIAGE)
    before = len(fake_slack.views(SAM))
    driver.command(SAM, "/rapid", "close", room)
    newest_modal(fake_slack, SAM, "crisis-close-modal", before)
    driver.submit(SAM, values={"outcome": HOSTILE})
    for user in (AMIRA, BEN, TOM, SAM):
        driver.open_home(user)

    # A surge: twelve angry posts about one town, an alert and a roll-up card.
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for n in range(12):
        text = f"@BrightwaveHelp no broadband in Hull {HOSTILE} ({n})"
        ingest(replica, 100 + n, text=text, created_at=now, author={"handle": f"<!here>{n}"})

    wait_until(lambda: fake_slack.messages(RAPID))
    wait_until(lambda: settled(replica), timeout=30)
    calls = fake_slack.calls()
    channels = {c["id"] for c in fake_slack.channels()}
    found = leaks(calls, channels)
    assert not found, "\n".join(found)
    # What Slack itself would have notified: nobody but staff the bot named, no broadcasts.
    notified = [(c.method, m) for c in calls for m in c.mentions]
    assert [n for n in notified if n[1]["kind"] != "user"] == []
    assert [n for n in notified if n[1]["target"] not in STAFF_IDS] == []
    assert fake_slack.unsafe_params() == []  # no link_names, no parse=full: bare @here is text
    posts = fake_slack.calls("chat.postMessage")
    unfurled = [
        c.params for c in posts if str(c.params.get("unfurl_links")).lower() not in ("false", "0")
    ]
    assert unfurled == []  # the customer's links are never previewed

    # Not vacuous: the hostile text did reach each surface, escaped.
    inert = "&lt;!channel&gt;"
    surfaces = {
        "triage card": said(fake_slack, "chat.postMessage", "New X mention from"),
        "thread (later mention)": said(fake_slack, "chat.postMessage", "Another X mention"),
        "escalation card": said(fake_slack, "chat.postMessage", "Escalation to Billing"),
        "reply card": said(fake_slack, "chat.postMessage", "Reply to @"),
        "war-room brief": said(fake_slack, "chat.postMessage", "Linked cases"),
        "update": said(fake_slack, "chat.postMessage", "Update"),
        "closing": said(fake_slack, "chat.postMessage", "Crisis closed"),
        "home": said(fake_slack, "views.publish", "Your social queue"),
        "surge alert": said(fake_slack, "chat.postMessage", "Surge"),
        "pasted message": said(fake_slack, "chat.postMessage", "From a customer"),
    }
    missing = [name for name, text in surfaces.items() if inert not in text.replace("\\u0026", "&")]
    assert missing == []
    assert re.search(r"evil \(\d+\)", said(fake_slack, "response_url", "Digest"))  # words only
    assert said(fake_slack, "chat.postMessage", "nag-snooze")  # the reminder went too


def test_the_scan_finds_syntax_wherever_slack_would_read_it():
    """The scan itself: raw syntax in a message's text, a mrkdwn block or a view is found; the
    same in plain_text, an input's value or a button's value is not (Slack shows it as typed)."""
    view = {
        "type": "modal",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "<!channel>"}},
            {"type": "input", "element": {"type": "plain_text_input", "initial_value": "<!here>"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "value": "<!everyone>",
                        "text": {"type": "plain_text", "text": "<!here>"},
                    }
                ],
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "by <@U0AMIRA01> in <#C0ROOM01>"},
            },
        ],
    }
    inert = [
        Call("views.open", {"view": view}),
        Call("chat.postMessage", {"text": "<!date^1^x|y>"}),
    ]
    assert leaks(inert, {"C0ROOM01"}) == []
    for text in (
        "<!channel>",
        "a <@U0EVIL001> b",
        "zq:<@U0AMIRA01>",
        "<#C123>",
        "zqAT&T",
        "<https://evil.example|x>",
        "<!subteam^S1|x>",
        "<mailto:a@evil.example>",
    ):
        block = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
        assert leaks([Call("chat.update", {"text": "ok", "blocks": [block]})], set()), text
        assert leaks([Call("response_url", {"text": text})], set()), text


def test_what_a_model_writes_is_untrusted_too():
    """Drafts and summaries come from an LLM that reads the mention: shown escaped as well."""
    draft = {
        "text": HOSTILE,
        "tone": HOSTILE,
        "reason": HOSTILE,
        "flags": [HOSTILE],
        "origin": "llm",
        "problems": [{"rule": "links", "message": HOSTILE}],
    }
    suggestion = Suggestion(
        id=3,
        case_id=7,
        requested_by=AMIRA,
        origin="llm",
        model=HOSTILE,
        prompt_version=HOSTILE,
        note=HOSTILE,
        drafts=[draft, draft],
    )
    drafted = drafts_message(suggestion, ORG.directory())
    themes = themes_text(None, HOSTILE)
    sent = [
        Call("chat.postMessage", {"text": drafted.text, "blocks": drafted.blocks}),
        Call("chat.postMessage", {"text": themes}),
    ]
    assert leaks(sent, set()) == []
    assert "&lt;!channel&gt;" in json.dumps(drafted.blocks) and "&lt;!channel&gt;" in themes
