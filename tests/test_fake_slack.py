"""The fake Slack Web API, exercised through slack-sdk exactly as the bot talks to Slack."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bot.fakeslack import FakeSlack, Limits
from bot.fakeslack.blocks import validate_message, validate_view

AGENT = "U0AGENT1"
OTHER = "U0AGENT2"
TOKEN = "xoxb-fake"


def section(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def button(text: str, action_id: str = "go", value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


def modal(title: str = "Escalate", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "escalate",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks if blocks is not None else [section("Pick an owner")],
    }


def seed(fake: FakeSlack) -> FakeSlack:
    fake.add_user(AGENT, name="amira", real_name="Amira Khan", tz="Europe/London")
    fake.add_user(OTHER, name="bo", real_name="Bo Lindqvist", tz="Europe/Stockholm")
    fake.add_channel("social-triage", members=[AGENT])
    return fake


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeSlack]]:
    """Start fakes with chosen limits; every one is stopped after the test."""
    started: list[FakeSlack] = []

    def make(limits: Limits | None = None) -> FakeSlack:
        fake = seed(FakeSlack(bot_token=TOKEN, limits=limits).start())
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(make_fake: Callable[..., FakeSlack]) -> FakeSlack:
    # Functional tests post faster than a real workspace allows; limits get their own tests.
    return make_fake(Limits(enabled=False))


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url, timeout=5)


def error_of(call: Callable[[], Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


# --- basics ---------------------------------------------------------------------------------


def test_url_and_auth_test(fake: FakeSlack, client: WebClient) -> None:
    assert fake.url.startswith("http://127.0.0.1:") and fake.url.endswith("/api/")
    identity = client.auth_test()
    assert identity["user_id"] == fake.bot_user_id == "U0BOT001"
    assert identity["team_id"] == fake.team_id == "T0FAKE01"


def test_auth_failures_and_unknown_method(fake: FakeSlack) -> None:
    missing = error_of(lambda: WebClient(base_url=fake.url).auth_test())
    assert missing.response["error"] == "not_authed"
    wrong = error_of(lambda: WebClient(token="xoxb-wrong", base_url=fake.url).auth_test())
    assert wrong.response["error"] == "invalid_auth"
    client = WebClient(token=TOKEN, base_url=fake.url)
    assert error_of(lambda: client.api_call("chat.teleport")).response["error"] == "unknown_method"
    assert [c.error for c in fake.calls()] == ["not_authed", "invalid_auth", "unknown_method"]
    assert all("token" not in c.params for c in fake.calls())
    fake.reset_calls()
    assert fake.calls() == []


def test_context_manager_stops_server() -> None:
    with FakeSlack() as fake:
        url = fake.url
        assert WebClient(token="xoxb-fake", base_url=url).api_test()["ok"]
    with pytest.raises(URLError):
        urllib.request.urlopen(url + "api.test", timeout=1)


# --- messages -------------------------------------------------------------------------------


def test_post_thread_and_broadcast(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="social-triage", text="New case")
    assert parent["channel"] == fake.channel_id("social-triage")
    client.chat_postMessage(channel=parent["channel"], text="first reply", thread_ts=parent["ts"])
    client.chat_postMessage(
        channel=parent["channel"], text="shown too", thread_ts=parent["ts"], reply_broadcast=True
    )
    top = fake.messages("social-triage")
    assert [m["text"] for m in top] == ["New case", "shown too"]
    assert top[0]["reply_count"] == 2
    assert [m["text"] for m in fake.replies("social-triage", parent["ts"])] == [
        "first reply",
        "shown too",
    ]
    thread = client.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]][0] == "New case"


def test_ts_values_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="social-triage", text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_concurrent_posts_are_all_kept(fake: FakeSlack) -> None:
    def post(i: int) -> None:
        WebClient(token=TOKEN, base_url=fake.url).chat_postMessage(
            channel="social-triage", text=f"{i}"
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({m["ts"] for m in fake.messages("social-triage")}) == 20


def test_update_and_delete(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="social-triage", text="Unassigned")
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Owned by Amira")
    assert updated["text"] == "Owned by Amira"
    message = fake.messages("social-triage")[0]
    assert message["text"] == "Owned by Amira" and message["edited"]["user"] == fake.bot_user_id
    missing = error_of(
        lambda: client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    )
    assert missing.response["error"] == "message_not_found"
    client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    assert fake.messages("social-triage") == []


def test_bot_cannot_edit_a_persons_message(fake: FakeSlack, client: WebClient) -> None:
    ts = fake.add_message("social-triage", AGENT, "I'll take it")
    err = error_of(lambda: client.chat_update(channel="social-triage", ts=ts, text="no"))
    assert err.response["error"] == "cant_update_message"


def test_blocks_without_text_warn(fake: FakeSlack, client: WebClient) -> None:
    with pytest.warns(UserWarning, match="top-level `text`"):
        response = client.chat_postMessage(channel="social-triage", blocks=[section("hi")])
    assert response["warning"] == "missing_text_or_fallback_or_attachments"
    assert fake.calls("chat.postMessage")[0].warning == "missing_text_or_fallback_or_attachments"


def test_no_text_and_unknown_channel(client: WebClient) -> None:
    with pytest.warns(UserWarning):
        err = error_of(lambda: client.chat_postMessage(channel="social-triage"))
    assert err.response["error"] == "no_text"
    err = error_of(lambda: client.chat_postMessage(channel="nope", text="x"))
    assert err.response["error"] == "channel_not_found"


def test_long_text_is_truncated(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="social-triage", text="x" * 40_050)
    assert len(fake.messages("social-triage")[0]["text"]) == 40_000


def test_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    response = client.chat_postEphemeral(channel="social-triage", user=AGENT, text="only you")
    assert response["message_ts"]
    assert fake.ephemerals(user=AGENT)[0]["text"] == "only you"
    assert fake.messages("social-triage") == []
    err = error_of(lambda: client.chat_postEphemeral(channel="social-triage", user=OTHER, text="x"))
    assert err.response["error"] == "user_not_in_channel"


def test_permalink(client: WebClient) -> None:
    posted = client.chat_postMessage(channel="social-triage", text="case")
    link = client.chat_getPermalink(channel=posted["channel"], message_ts=posted["ts"])
    assert link["permalink"].endswith(
        f"/archives/{posted['channel']}/p{posted['ts'].replace('.', '')}"
    )
    err = error_of(lambda: client.chat_getPermalink(channel=posted["channel"], message_ts="1.2"))
    assert err.response["error"] == "message_not_found"


def test_history_filters_and_metadata(client: WebClient) -> None:
    metadata = {"event_type": "case_opened", "event_payload": {"case_id": "42"}}
    first = client.chat_postMessage(channel="social-triage", text="one", metadata=metadata)
    for text in ("two", "three"):
        client.chat_postMessage(channel="social-triage", text=text)
    channel = first["channel"]
    newer = client.conversations_history(channel=channel, oldest=first["ts"])
    assert [m["text"] for m in newer["messages"]] == ["three", "two"]
    page = client.conversations_history(channel=channel, limit=2)
    assert page["has_more"] and page["response_metadata"]["next_cursor"]
    with_meta = client.conversations_history(channel=channel, include_all_metadata=True)
    assert with_meta["messages"][-1]["metadata"] == metadata
    assert "metadata" not in client.conversations_history(channel=channel)["messages"][-1]


def test_reactions_and_pins(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="social-triage", text="case")
    client.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="eyes")
    client.pins_add(channel=posted["channel"], timestamp=posted["ts"])
    message = fake.messages("social-triage")[0]
    assert message["reactions"][0]["name"] == "eyes" and message["pinned_to"]
    again = error_of(lambda: client.pins_add(channel=posted["channel"], timestamp=posted["ts"]))
    assert again.response["error"] == "already_pinned"


# --- conversations --------------------------------------------------------------------------


def test_create_channel_and_name_taken(fake: FakeSlack, client: WebClient) -> None:
    created = client.conversations_create(name="case-42_acme")
    assert created["channel"]["id"].startswith("C") and created["channel"]["is_member"]
    assert fake.channel_name(created["channel"]["id"]) == "case-42_acme"
    err = error_of(lambda: client.conversations_create(name="case-42_acme"))
    assert err.response["error"] == "name_taken"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Case-42", "invalid_name_specials"),
        ("case 42", "invalid_name_specials"),
        ("case#42", "invalid_name_specials"),
        ("c" * 81, "invalid_name_maxlength"),
    ],
)
def test_create_channel_bad_names(client: WebClient, name: str, error: str) -> None:
    assert error_of(lambda: client.conversations_create(name=name)).response["error"] == error


def test_invite_errors(fake: FakeSlack, client: WebClient) -> None:
    channel = client.conversations_create(name="case-7")["channel"]["id"]
    client.conversations_invite(channel=channel, users=[AGENT, OTHER])
    assert set(client.conversations_members(channel=channel)["members"]) >= {AGENT, OTHER}
    cases = {AGENT: "already_in_channel", fake.bot_user_id: "cant_invite_self"}
    cases["U0NOBODY"] = "user_not_found"
    for user, error in cases.items():
        err = error_of(lambda u=user: client.conversations_invite(channel=channel, users=u))
        assert err.response["error"] == error


def test_private_and_archived_channels(fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("vip-escalations", is_private=True, members=[AGENT], include_bot=False)
    err = error_of(lambda: client.chat_postMessage(channel="vip-escalations", text="x"))
    assert err.response["error"] == "not_in_channel"
    public = fake.add_channel("public-no-bot", include_bot=False)
    assert client.chat_postMessage(channel=public, text="chat:write.public works")["ok"]
    channel = client.conversations_create(name="case-old")["channel"]["id"]
    client.conversations_archive(channel=channel)
    assert client.conversations_info(channel=channel)["channel"]["is_archived"]
    err = error_of(lambda: client.chat_postMessage(channel=channel, text="x"))
    assert err.response["error"] == "is_archived"


def test_join_and_topic(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.add_channel("brand-watch", include_bot=False)
    assert client.conversations_join(channel=channel)["channel"]["is_member"]
    client.conversations_setTopic(channel=channel, topic="Mentions of Acme")
    assert (
        client.conversations_info(channel=channel)["channel"]["topic"]["value"]
        == "Mentions of Acme"
    )


def test_dm_open_reuses_channel(fake: FakeSlack, client: WebClient) -> None:
    first = client.conversations_open(users=AGENT)["channel"]["id"]
    again = client.conversations_open(users=[AGENT])
    assert first.startswith("D") and again["channel"]["id"] == first and again["already_open"]
    client.chat_postMessage(channel=first, text="You own case 42")
    assert fake.messages(first)[0]["text"] == "You own case 42"
    err = error_of(lambda: client.conversations_open(users="U0NOBODY"))
    assert err.response["error"] == "user_not_found"


def test_users_info_and_list(client: WebClient) -> None:
    user = client.users_info(user=AGENT)["user"]
    assert user["real_name"] == "Amira Khan" and user["tz"] == "Europe/London"
    assert (
        error_of(lambda: client.users_info(user="U0NOBODY")).response["error"] == "user_not_found"
    )
    assert {m["id"] for m in client.users_list()["members"]} >= {AGENT, OTHER}


def test_user_group_members(fake: FakeSlack, client: WebClient) -> None:
    fake.set_usergroup("S0RAPID01", [AGENT, OTHER])
    assert client.usergroups_users_list(usergroup="S0RAPID01")["users"] == [AGENT, OTHER]
    fake.set_usergroup("S0RAPID01", [OTHER])
    assert client.usergroups_users_list(usergroup="S0RAPID01")["users"] == [OTHER]
    missing = error_of(lambda: client.usergroups_users_list(usergroup="S0NOPE"))
    assert missing.response["error"] == "no_such_subteam"
    with pytest.raises(KeyError):
        fake.set_usergroup("S0RAPID02", ["U0NOBODY"])


# --- views ----------------------------------------------------------------------------------


def test_views_open_needs_a_fresh_trigger(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=fake.trigger_id(AGENT), view=modal())
    assert (
        opened["view"]["id"].startswith("V") and fake.views(AGENT)[0]["title"]["text"] == "Escalate"
    )
    fake.limits.trigger_ttl_seconds = 0.05
    stale = fake.trigger_id(AGENT)
    time.sleep(0.1)
    expired = error_of(lambda: client.views_open(trigger_id=stale, view=modal()))
    assert expired.response["error"] == "expired_trigger_id"
    unknown = error_of(lambda: client.views_open(trigger_id="1.2.3", view=modal()))
    assert unknown.response["error"] == "invalid_trigger_id"


def test_trigger_opens_one_view(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.trigger_id(AGENT)
    client.views_open(trigger_id=trigger, view=modal())
    err = error_of(lambda: client.views_open(trigger_id=trigger, view=modal()))
    assert err.response["error"] == "exchanged_trigger_id"


def test_views_update_push_publish(fake: FakeSlack, client: WebClient) -> None:
    view = client.views_open(trigger_id=fake.trigger_id(AGENT), view=modal())["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Saved"))
    assert updated["view"]["title"]["text"] == "Saved"
    stale = error_of(
        lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=modal())
    )
    assert stale.response["error"] == "hash_conflict"
    pushed = client.views_push(trigger_id=fake.trigger_id(AGENT), view=modal("Details"))
    assert pushed["view"]["previous_view_id"] == view["id"]
    client.views_publish(user_id=AGENT, view={"type": "home", "blocks": [section("My cases")]})
    assert fake.home(AGENT)["blocks"][0]["text"]["text"] == "My cases"


def test_invalid_modal_is_rejected(fake: FakeSlack, client: WebClient) -> None:
    err = error_of(
        lambda: client.views_open(trigger_id=fake.trigger_id(AGENT), view=modal("T" * 25))
    )
    assert err.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in err.response["response_metadata"]["messages"][0]


# --- files ----------------------------------------------------------------------------------


def test_files_upload_v2_shares_into_channel(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.channel_id("social-triage")
    response = client.files_upload_v2(
        channel=channel, content="case,owner\n42,amira\n", filename="cases.csv", title="Cases"
    )
    assert response["file"]["title"] == "Cases"
    message = fake.messages("social-triage")[0]
    assert message["files"][0]["name"] == "cases.csv"
    assert fake.files()[0]["content"] == b"case,owner\n42,amira\n"
    with urllib.request.urlopen(message["files"][0]["url_private"], timeout=2) as downloaded:
        assert downloaded.read() == b"case,owner\n42,amira\n"
    methods = [c.method for c in fake.calls()]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


# --- Block Kit ------------------------------------------------------------------------------


def test_over_fifty_blocks_rejected(client: WebClient) -> None:
    err = error_of(
        lambda: client.chat_postMessage(
            channel="social-triage", text="x", blocks=[section("b")] * 51
        )
    )
    assert err.response["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks]" in err.response["errors"][0]


def test_long_section_rejected_with_reason(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("x" * 3001)]
    err = error_of(
        lambda: client.chat_postMessage(channel="social-triage", text="x", blocks=blocks)
    )
    assert err.response["errors"] == [
        "must be less than 3001 characters (got 3001) [json-pointer:/blocks/0/text/text]"
    ]
    assert err.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert fake.calls("chat.postMessage")[0].error == "invalid_blocks"


def test_long_button_text_rejected(client: WebClient) -> None:
    posted = client.chat_postMessage(channel="social-triage", text="x")
    blocks = [{"type": "actions", "elements": [button("b" * 76)]}]
    err = error_of(
        lambda: client.chat_update(
            channel=posted["channel"], ts=posted["ts"], text="x", blocks=blocks
        )
    )
    assert err.response["error"] == "invalid_blocks"
    assert err.response["errors"] == [
        "must be less than 76 characters (got 76) [json-pointer:/blocks/0/elements/0/text/text]"
    ]


def test_blocks_text_too_long(client: WebClient) -> None:
    blocks = [section("y" * 3000) for _ in range(5)]
    err = error_of(
        lambda: client.chat_postMessage(channel="social-triage", text="x", blocks=blocks)
    )
    assert err.response["error"] == "msg_blocks_too_long"


def test_form_encoded_blocks_are_validated_too(client: WebClient) -> None:
    blocks = json.dumps([{"type": "carousel"}])
    err = error_of(
        lambda: client.api_call(
            "chat.postMessage", params={"channel": "social-triage", "text": "x", "blocks": blocks}
        )
    )
    assert "unsupported block type" in err.response["errors"][0]


def test_validator_accepts_good_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Case 42"}},
        {**section("*Acme* mentioned"), "accessory": button("Open")},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"f{i}"} for i in range(10)]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "via X"}]},
        {"type": "divider"},
        {"type": "actions", "elements": [button("Claim", "claim"), button("Snooze", "snooze")]},
    ]
    assert validate_message(blocks) == []
    assert validate_view(modal(blocks=blocks)) == []


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "/blocks/0/text/type"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        ([{"type": "section"}], "/blocks/0"),
        ([{"type": "section", "fields": [section("f")["text"]] * 11}], "/blocks/0/fields"),
        ([{"type": "context", "elements": [section("c")["text"]] * 11}], "/blocks/0/elements"),
        (
            [{"type": "actions", "elements": [button("a", f"a{i}") for i in range(26)]}],
            "/blocks/0/elements",
        ),
        (
            [{"type": "actions", "elements": [button("a", "same"), button("b", "same")]}],
            "/blocks/0/elements/1/action_id",
        ),
        (
            [{**section("a"), "block_id": "x"}, {**section("b"), "block_id": "x"}],
            "/blocks/1/block_id",
        ),
        ([{**section("a"), "block_id": "x" * 256}], "/blocks/0/block_id"),
        (
            [{"type": "actions", "elements": [button("a", value="v" * 2001)]}],
            "/blocks/0/elements/0/value",
        ),
        ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "/blocks/0/text/type"),
    ],
)
def test_validator_reports_pointer(blocks: list[dict[str, Any]], pointer: str) -> None:
    errors = validate_message(blocks)
    assert any(e.endswith(f"[json-pointer:{pointer}]") for e in errors), errors


def test_validator_select_and_view_limits() -> None:
    options = [{"text": {"type": "plain_text", "text": "o"}, "value": str(i)} for i in range(101)]
    select = {"type": "static_select", "action_id": "s", "options": options}
    assert validate_message([{"type": "actions", "elements": [select]}])
    overflow = {"type": "overflow", "action_id": "o", "options": options[:6]}
    assert validate_message([{**section("x"), "accessory": overflow}])
    assert validate_view({**modal(), "private_metadata": "m" * 3001})
    assert validate_view(modal(blocks=[section("x")] * 101))
    assert validate_view(modal(blocks=[section("x")] * 100)) == []
    needs_submit = modal(
        blocks=[
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Why"},
                "element": {"type": "plain_text_input", "action_id": "why"},
            }
        ]
    )
    assert any("/view/submit" in e for e in validate_view(needs_submit))


# --- rate limits ----------------------------------------------------------------------------


def test_post_rate_limit_per_channel(make_fake: Callable[..., FakeSlack]) -> None:
    fake = make_fake(Limits(post_per_second_per_channel=0.5, post_burst_per_channel=2))
    fake.add_channel("other")
    client = WebClient(token=TOKEN, base_url=fake.url)
    for _ in range(2):
        client.chat_postMessage(channel="social-triage", text="burst")
    err = error_of(lambda: client.chat_postMessage(channel="social-triage", text="too many"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "2"
    assert client.chat_postMessage(channel="other", text="other channel is fine")["ok"]
    limited = fake.calls("chat.postMessage")[2]
    assert (limited.status, limited.channel) == (429, fake.channel_id("social-triage"))


def test_workspace_post_limit(make_fake: Callable[..., FakeSlack]) -> None:
    fake = make_fake(Limits(workspace_posts_per_minute=3))
    client = WebClient(token=TOKEN, base_url=fake.url)
    for name in ("a", "b", "c"):
        client.chat_postMessage(channel=fake.add_channel(name), text="x")
    err = error_of(lambda: client.chat_postMessage(channel=fake.add_channel("d"), text="x"))
    assert err.response.status_code == 429 and int(err.response.headers["Retry-After"]) >= 1


def test_tier_limit_and_switch(make_fake: Callable[..., FakeSlack]) -> None:
    fake = make_fake(Limits(tier_per_minute={"conversations.create": 2}))
    client = WebClient(token=TOKEN, base_url=fake.url)
    client.conversations_create(name="a")
    client.conversations_create(name="b")
    err = error_of(lambda: client.conversations_create(name="c"))
    assert err.response.status_code == 429 and int(err.response.headers["Retry-After"]) > 1
    untiered = make_fake(Limits(tiers=False, tier_per_minute={"conversations.create": 1}))
    other = WebClient(token=TOKEN, base_url=untiered.url)
    assert all(other.conversations_create(name=n)["ok"] for n in ("a", "b", "c"))


# --- injected faults ------------------------------------------------------------------------


def test_injected_503_returns_html_then_recovers(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=503, times=1)
    err = error_of(lambda: client.chat_postMessage(channel="social-triage", text="x"))
    assert err.response.status_code == 503
    assert client.chat_postMessage(channel="social-triage", text="x")["ok"]
    assert [c.status for c in fake.calls("chat.postMessage")] == [503, 200]


def test_injected_429_carries_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("*", status=429, retry_after=7, times=1)
    err = error_of(client.auth_test)
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "7"


def test_injected_body(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("conversations.create", status=200, body={"ok": False, "error": "missing_scope"})
    err = error_of(lambda: client.conversations_create(name="x"))
    assert err.response["error"] == "missing_scope"
    fake.clear_faults()
    assert client.conversations_create(name="x")["ok"]


def test_connection_reset(fake: FakeSlack) -> None:
    # slack-sdk retries a connection error once by default (after a backoff we shorten here),
    # so one reset is survived...
    retry = ConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.01))
    client = WebClient(token=TOKEN, base_url=fake.url, retry_handlers=[retry])
    fake.fail("chat.postMessage", reset=True, times=1)
    assert client.chat_postMessage(channel="social-triage", text="x")["ok"]
    assert [c.error for c in fake.calls("chat.postMessage")] == ["connection_reset", None]
    fake.fail("chat.postMessage", reset=True)
    # ...and a lasting one is not.
    with pytest.raises((URLError, ConnectionError)):
        client.chat_postMessage(channel="social-triage", text="x")


def test_delay(fake: FakeSlack) -> None:
    fake.fail("auth.test", status=None, delay=0.3, times=1)
    started = time.monotonic()
    assert WebClient(token=TOKEN, base_url=fake.url).auth_test()["ok"]
    assert time.monotonic() - started >= 0.3
    fake.fail("auth.test", status=None, delay=0.5, times=2)
    with pytest.raises((TimeoutError, URLError)):
        WebClient(token=TOKEN, base_url=fake.url, timeout=0.1).auth_test()


def test_outage(fake: FakeSlack, client: WebClient) -> None:
    fake.outage(0.2)
    assert error_of(client.auth_test).response.status_code == 503
    assert error_of(lambda: client.users_info(user=AGENT)).response.status_code == 503
    time.sleep(0.25)
    assert client.auth_test()["ok"]


# --- notifications and unsafe parameters ----------------------------------------------------


def test_notifications_escaped_vs_unescaped(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.channel_id("social-triage")
    client.chat_postMessage(channel=channel, text="&lt;!channel&gt; &lt;@U0AGENT1&gt; are inert")
    client.chat_postMessage(channel=channel, text="x", blocks=[section("<!here>", "plain_text")])
    client.chat_postMessage(channel=channel, text="<!everyone>", mrkdwn=False)
    assert fake.notifications() == []
    client.chat_postMessage(channel=channel, text="<!channel> and <@U0AGENT1|amira>")
    client.chat_postMessage(channel=channel, text="x", blocks=[section("<!subteam^S0SOCIAL>")])
    kinds = [(n["kind"], n["target"]) for n in fake.notifications()]
    assert kinds == [("channel", channel), ("user", AGENT), ("subteam", "S0SOCIAL")]


def test_rich_text_mentions_and_edits(fake: FakeSlack, client: WebClient) -> None:
    broadcast = {"type": "broadcast", "range": "here"}
    rich = {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": [broadcast]}],
    }
    posted = client.chat_postMessage(channel="social-triage", text="x", blocks=[rich])
    assert [n["kind"] for n in fake.notifications()] == ["here"]
    # Slack does not notify again for an edit, but the call still shows the unsafe text.
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="<!channel>")
    assert len(fake.notifications()) == 1
    assert fake.calls("chat.update")[0].mentions == [
        {"kind": "channel", "target": posted["channel"]}
    ]


def test_link_names_is_recorded_and_pings(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="social-triage", text="hello @here")
    assert not fake.link_names_seen and fake.notifications() == []
    client.chat_postMessage(channel="social-triage", text="hello @here", link_names=True)
    client.chat_postMessage(channel="social-triage", text="hi @amira", parse="full")
    assert fake.link_names_seen and fake.parse_full_seen
    assert [n["kind"] for n in fake.notifications()] == ["here", "user"]


def test_subscribe_sees_changes(fake: FakeSlack, client: WebClient) -> None:
    events: list[dict[str, Any]] = []
    fake.subscribe(events.append)
    posted = client.chat_postMessage(channel="social-triage", text="x")
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y")
    client.conversations_create(name="new-case")
    types = [e["type"] for e in events]
    assert types[:2] == ["message", "message_changed"] and "channel_created" in types


# --- response_url ---------------------------------------------------------------------------


def test_response_url_modes(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="social-triage", text="Claim?")
    hook = WebhookClient(fake.response_url("social-triage", AGENT, message_ts=posted["ts"]))
    assert hook.send(text="Only you see this").status_code == 200
    assert fake.ephemerals(user=AGENT)[0]["source"] == "response_url"
    hook.send(text="Claimed by Amira", replace_original=True)
    assert fake.messages("social-triage")[0]["text"] == "Claimed by Amira"
    hook.send(text="Everyone sees this", response_type="in_channel")
    assert fake.messages("social-triage")[-1]["text"] == "Everyone sees this"
    hook.send(delete_original=True)
    assert [m["text"] for m in fake.messages("social-triage")] == ["Everyone sees this"]
    assert hook.send(text="fifth use").status_code == 200
    assert hook.send(text="sixth use").status_code == 404


def test_response_url_rejects_bad_blocks_and_expires(fake: FakeSlack) -> None:
    hook = WebhookClient(fake.response_url("social-triage", AGENT))
    bad = hook.send(text="x", blocks=[section("z" * 3001)])
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "invalid_blocks"
    fake.limits.response_url_ttl_seconds = 0.0
    expired = WebhookClient(fake.response_url("social-triage", AGENT))
    time.sleep(0.01)
    assert expired.send(text="late").status_code == 404
