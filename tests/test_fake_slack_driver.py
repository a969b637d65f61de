"""SlackDriver against a real Bolt app served over HTTP, with the fake Slack as its Web API."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.fakeslack import FakeSlack, Limits, SlackDriver, SlackError

SECRET = "driver-test-signing-secret"
TOKEN = "xoxb-driver-test"
AMIRA = "U0AMIRA01"
BO = "U0BOLIN01"
TRIAGE = "social-triage"


class Seen:
    """What the Bolt listeners received, one queue per listener."""

    def __init__(self) -> None:
        self._queues: dict[str, queue.Queue[Any]] = defaultdict(queue.Queue)

    def put(self, kind: str, item: Any) -> None:
        self._queues[kind].put(item)

    def get(self, kind: str, timeout: float = 5) -> Any:
        return self._queues[kind].get(timeout=timeout)

    def empty(self, kind: str) -> bool:
        return self._queues[kind].empty()

    def clear(self) -> None:
        self._queues.clear()


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str) -> dict[str, Any]:
    return {"text": plain(value.title()), "value": value}


def card_blocks() -> list[dict[str, Any]]:
    confirm = {"title": plain("Sure?"), "text": plain("Close it"), "confirm": plain("Yes")}
    confirm["deny"] = plain("No")
    elements = [
        {"type": "button", "action_id": "case-claim", "text": plain("Claim"), "value": "case-7"},
        {"type": "button", "action_id": "case-close", "text": plain("Close"), "value": "case-7"}
        | {"style": "danger", "confirm": confirm},
        {
            "type": "static_select",
            "action_id": "case-escalate",
            "placeholder": plain("Escalate to"),
            "options": [option("billing"), option("network")],
        },
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Case 7*"}},
        {"type": "actions", "block_id": "card-actions", "elements": elements},
    ]


def escalate_modal(team: str) -> dict[str, Any]:
    severity = {"type": "static_select", "action_id": "severity"}
    severity["options"] = [option("low"), option("high")]
    return {
        "type": "modal",
        "callback_id": "escalate",
        "notify_on_close": True,
        "private_metadata": json.dumps({"team": team}),
        "title": plain("Escalate"),
        "submit": plain("Send"),
        "blocks": [
            {
                "type": "input",
                "block_id": "question_block",
                "label": plain("Question"),
                "element": {"type": "plain_text_input", "action_id": "question"},
            },
            {"type": "input", "label": plain("Severity"), "element": severity},
            {
                "type": "input",
                "block_id": "owner_block",
                "optional": True,
                "label": plain("Owner"),
                "element": {"type": "users_select", "action_id": "owner"},
            },
        ],
    }


def small_modal(title: str, callback_id: str) -> dict[str, Any]:
    text = {"type": "section", "text": plain(title)}
    return {"type": "modal", "callback_id": callback_id, "title": plain(title), "blocks": [text]}


def register_actions(app: App, seen: Seen) -> None:
    @app.action("case-claim")
    def claim(ack, body, respond, request) -> None:
        ack()
        respond(text=f"Claimed by <@{body['user']['id']}>")
        seen.put("case-claim", {"body": body, "retry": request.headers.get("x-slack-retry-num")})

    @app.action("case-close")
    def close(ack, body) -> None:
        seen.put("case-close", body)  # before ack: the driver returns only after it
        ack()

    @app.action("case-escalate")
    def escalate(ack, body, action, client) -> None:
        ack()
        modal = escalate_modal(action["selected_option"]["value"])
        client.views_open(trigger_id=body["trigger_id"], view=modal)
        seen.put("case-escalate", body)

    @app.action("home-refresh")
    def refresh(ack, body) -> None:
        ack()
        seen.put("home-refresh", body)


def register_views(app: App, seen: Seen) -> None:
    @app.view("escalate")
    def submitted(ack, body, view) -> None:
        seen.put("escalate", body)
        question = view["state"]["values"]["question_block"]["question"]["value"]
        if question == "?":
            ack(response_action="errors", errors={"question_block": "Say a bit more"})
        elif question == "next":
            ack(response_action="update", view=small_modal("Escalated", "escalate"))
        elif question == "more":
            ack(response_action="push", view=small_modal("Details", "details"))
        elif question == "broken":
            ack(response_action="update", view=small_modal("T" * 40, "escalate"))
        else:
            ack()

    @app.view_closed("escalate")
    def closed(ack, body) -> None:
        ack()
        seen.put("closed", body)


def register_entry_points(app: App, seen: Seen) -> None:
    @app.command("/rapid")
    def rapid(ack, command) -> None:
        ack(f"Declaring: {command['text']}")
        seen.put("/rapid", command)

    @app.shortcut("message-escalate")
    def message_shortcut(ack, shortcut) -> None:
        ack()
        seen.put("message-escalate", shortcut)

    @app.shortcut("new-case")
    def global_shortcut(ack, shortcut, client) -> None:
        ack()
        client.views_open(trigger_id=shortcut["trigger_id"], view=escalate_modal("network"))
        seen.put("new-case", shortcut)

    @app.event("app_mention")
    def mention(body, request) -> None:
        headers = request.headers
        retry = (headers.get("x-slack-retry-num"), headers.get("x-slack-retry-reason"))
        seen.put("app_mention", {"body": body, "retry": retry})

    @app.event("app_home_opened")
    def home(event, client) -> None:
        button = {"type": "button", "action_id": "home-refresh", "text": plain("Refresh")}
        blocks = [{"type": "actions", "elements": [button]}]
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})
        seen.put("app_home_opened", event)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output to what the tests say


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN, limits=Limits(enabled=False)) as fake:
        fake.add_user(AMIRA, name="amira", real_name="Amira Khan")
        fake.add_user(BO, name="bo", real_name="Bo Lindqvist")
        fake.add_channel(TRIAGE, members=[AMIRA, BO])
        fake.add_channel("rapid-response", is_private=True, members=[AMIRA])
        yield fake


@pytest.fixture(scope="module")
def seen_all() -> Seen:
    return Seen()


@pytest.fixture
def seen(seen_all: Seen) -> Seen:
    seen_all.clear()
    return seen_all


@pytest.fixture(scope="module")
def bot_url(fake: FakeSlack, seen_all: Seen) -> Iterator[str]:
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=fake.url))
    for register in (register_actions, register_views, register_entry_points):
        register(app, seen_all)
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def driver(fake: FakeSlack, bot_url: str) -> SlackDriver:
    return SlackDriver(fake, bot_url=bot_url, signing_secret=SECRET)


@pytest.fixture
def card_ts(fake: FakeSlack) -> str:
    client = WebClient(token=TOKEN, base_url=fake.url)
    return client.chat_postMessage(channel=TRIAGE, text="Case 7", blocks=card_blocks())["ts"]


def wait_for(predicate: Any, timeout: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def open_modal(driver: SlackDriver, seen: Seen, card_ts: str) -> str:
    driver.click(AMIRA, TRIAGE, card_ts, "case-escalate", option="billing")
    seen.get("case-escalate")
    return driver.fake.views(AMIRA)[-1]["id"]


# --- messages -------------------------------------------------------------------------------


def test_button_click_is_shaped_as_slack_and_respond_works(
    fake: FakeSlack, driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    result = driver.click(AMIRA, TRIAGE, card_ts, "case-claim")
    assert result is not None and result.status == 200 and result.body is None
    body = seen.get("case-claim")["body"]
    assert body["type"] == "block_actions" and body["user"]["id"] == AMIRA
    assert body["user"]["username"] == "amira" and body["team"]["id"] == fake.team_id
    assert body["container"] == {
        "type": "message",
        "message_ts": card_ts,
        "channel_id": fake.channel_id(TRIAGE),
        "is_ephemeral": False,
    }
    assert body["channel"] == {"id": fake.channel_id(TRIAGE), "name": TRIAGE}
    assert body["message"]["ts"] == card_ts and body["message"]["blocks"][1]["type"] == "actions"
    assert body["state"] == {"values": {}} and body["trigger_id"]
    (action,) = body["actions"]
    assert action["type"] == "button" and action["action_id"] == "case-claim"
    assert action["value"] == "case-7" and action["block_id"] == "card-actions"
    assert action["text"]["text"] == "Claim" and action["action_ts"]
    assert wait_for(lambda: fake.ephemerals(user=AMIRA))[-1]["text"] == f"Claimed by <@{AMIRA}>"


def test_retry_resends_the_same_click_with_retry_headers(
    driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    first = driver.click(AMIRA, TRIAGE, card_ts, "case-claim")
    again = driver.click(AMIRA, TRIAGE, card_ts, "case-claim", retry=1)
    assert first is not None and again is not None and again.sent == first.sent
    assert seen.get("case-claim")["retry"] is None
    assert seen.get("case-claim")["retry"] == ["1"]
    fresh = driver.click(AMIRA, TRIAGE, card_ts, "case-claim")
    assert fresh is not None and fresh.sent is not None and first.sent is not None
    assert fresh.sent["actions"][0]["action_ts"] != first.sent["actions"][0]["action_ts"]


def test_confirm_dialog(driver: SlackDriver, seen: Seen, card_ts: str) -> None:
    assert driver.click(BO, TRIAGE, card_ts, "case-close", confirm=False) is None
    result = driver.click(BO, TRIAGE, card_ts, "case-close")
    assert result is not None and result.status == 200
    action = seen.get("case-close")["actions"][0]
    assert action["style"] == "danger" and action["value"] == "case-7"
    assert seen.empty("case-close")


def test_select_sends_the_option_and_opens_a_modal(
    fake: FakeSlack, driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    driver.click(AMIRA, TRIAGE, card_ts, "case-escalate", option="network")
    body = seen.get("case-escalate")
    action = body["actions"][0]
    assert action["type"] == "static_select" and action["selected_option"]["value"] == "network"
    assert action["placeholder"]["text"] == "Escalate to"
    picked = body["state"]["values"]["card-actions"]["case-escalate"]
    assert picked["selected_option"]["value"] == "network"
    modal = fake.views(AMIRA)[-1]
    assert json.loads(modal["private_metadata"]) == {"team": "network"}
    driver.close_view(AMIRA)
    assert seen.get("closed")["view"]["id"] == modal["id"]


def test_ephemeral_message_click(fake: FakeSlack, driver: SlackDriver, seen: Seen) -> None:
    client = WebClient(token=TOKEN, base_url=fake.url)
    client.chat_postEphemeral(channel=TRIAGE, user=AMIRA, text="Case 8", blocks=card_blocks())
    ts = fake.ephemerals(user=AMIRA)[-1]["ts"]
    with pytest.raises(KeyError):
        driver.click(BO, TRIAGE, ts, "case-claim")  # someone else's ephemeral
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    body = seen.get("case-claim")["body"]
    assert body["container"]["is_ephemeral"] is True and "message" not in body


def test_missing_elements_options_and_users_are_errors(driver: SlackDriver, card_ts: str) -> None:
    with pytest.raises(KeyError, match="case-nope"):
        driver.click(AMIRA, TRIAGE, card_ts, "case-nope")
    with pytest.raises(KeyError, match="legal"):
        driver.click(AMIRA, TRIAGE, card_ts, "case-escalate", option="legal")
    with pytest.raises(KeyError, match="U0NOBODY"):
        driver.click("U0NOBODY", TRIAGE, card_ts, "case-claim")
    with pytest.raises(KeyError):
        driver.click(AMIRA, TRIAGE, "1.000001", "case-claim")


# --- modals ---------------------------------------------------------------------------------


def test_submission_carries_typed_state_and_closes_the_modal(
    driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    view_id = open_modal(driver, seen, card_ts)
    result = driver.submit(AMIRA, values={"question": "why?", "severity": "high", "owner": BO})
    assert result.status == 200 and result.body is None
    body = seen.get("escalate")
    assert body["type"] == "view_submission" and body["response_urls"] == []
    view = body["view"]
    assert view["id"] == view_id and view["callback_id"] == "escalate" and view["hash"]
    values = view["state"]["values"]
    assert values["question_block"]["question"] == {"type": "plain_text_input", "value": "why?"}
    (severity_block,) = [v for k, v in values.items() if "severity" in v]
    assert severity_block["severity"]["selected_option"]["value"] == "high"
    assert values["owner_block"]["owner"] == {"type": "users_select", "selected_user": BO}
    with pytest.raises(LookupError):
        driver.submit(AMIRA, values={"question": "again"})  # closed after a plain ack


def test_client_side_checks_before_submitting(
    driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    open_modal(driver, seen, card_ts)
    with pytest.raises(ValueError, match="required"):
        driver.submit(AMIRA, values={"severity": "low"})
    with pytest.raises(KeyError, match="nope"):
        driver.submit(AMIRA, values={"question": "x", "severity": "low", "nope": "1"})
    with pytest.raises(KeyError, match="urgent"):
        driver.submit(AMIRA, values={"question": "x", "severity": "urgent"})
    assert seen.empty("escalate")
    driver.close_view(AMIRA)


def test_errors_then_update_then_close(
    fake: FakeSlack, driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    view_id = open_modal(driver, seen, card_ts)
    refused = driver.submit(AMIRA, view_id, values={"question": "?", "severity": "low"})
    assert refused.body == {
        "response_action": "errors",
        "errors": {"question_block": "Say a bit more"},
    }
    updated = driver.submit(AMIRA, view_id, values={"question": "next", "severity": "low"})
    assert updated.status == 200
    shown = next(v for v in fake.views(AMIRA) if v["id"] == view_id)
    assert shown["title"]["text"] == "Escalated"
    assert driver.close_view(AMIRA, view_id) is None  # the new view asks for no notification
    assert seen.empty("closed")


def test_push_stacks_a_view_and_bad_views_fail_as_in_slack(
    fake: FakeSlack, driver: SlackDriver, seen: Seen, card_ts: str
) -> None:
    root = open_modal(driver, seen, card_ts)
    driver.submit(AMIRA, values={"question": "more", "severity": "low"})
    pushed = fake.views(AMIRA)[-1]
    assert pushed["title"]["text"] == "Details" and pushed["previous_view_id"] == root
    driver.close_view(AMIRA, pushed["id"])  # back to the root modal
    with pytest.raises(SlackError) as error:
        driver.submit(AMIRA, root, values={"question": "broken", "severity": "low"})
    assert error.value.error == "invalid_arguments"
    assert error.value.extra["result"].status == 200
    driver.close_view(AMIRA, root)
    assert seen.get("closed")["view"]["id"] == root


# --- commands, shortcuts, events ------------------------------------------------------------


def test_slash_command(fake: FakeSlack, driver: SlackDriver, seen: Seen) -> None:
    result = driver.command(AMIRA, "/rapid", "declare Leeds outage", channel="rapid-response")
    assert result.status == 200 and result.body == "Declaring: declare Leeds outage"
    shown = fake.ephemerals("rapid-response", user=AMIRA)[-1]
    assert shown["text"] == result.body and shown["source"] == "command_response"
    command = seen.get("/rapid")
    assert command["channel_id"] == fake.channel_id("rapid-response")
    assert command["user_id"] == AMIRA and command["text"] == "declare Leeds outage"
    assert command["response_url"].startswith(fake.root_url) and command["trigger_id"]
    with pytest.raises(PermissionError):
        driver.command(BO, "/rapid", "x", channel="rapid-response")  # a private channel


def test_shortcuts(fake: FakeSlack, driver: SlackDriver, seen: Seen, card_ts: str) -> None:
    driver.message_shortcut(BO, TRIAGE, card_ts, callback_id="message-escalate")
    shortcut = seen.get("message-escalate")
    assert shortcut["type"] == "message_action" and shortcut["message"]["ts"] == card_ts
    assert shortcut["channel"]["name"] == TRIAGE and shortcut["response_url"]
    driver.global_shortcut(BO, "new-case")
    assert seen.get("new-case")["type"] == "shortcut"
    assert fake.views(BO)[-1]["callback_id"] == "escalate"
    driver.close_view(BO)
    seen.get("closed")


def test_event_and_its_retry(fake: FakeSlack, driver: SlackDriver, seen: Seen) -> None:
    event = {"type": "app_mention", "user": AMIRA, "text": f"<@{fake.bot_user_id}> hi"}
    event |= {"channel": fake.channel_id(TRIAGE), "ts": "1700000000.000100"}
    first = driver.event(event)
    assert first.status == 200 and first.sent is not None
    got = seen.get("app_mention")
    assert got["retry"] == (None, None) and got["body"]["event"]["text"].endswith("hi")
    assert got["body"]["authorizations"][0]["user_id"] == fake.bot_user_id
    event_id = first.sent["event_id"]
    again = driver.event(event, event_id=event_id, retry=1)
    assert again.sent == first.sent
    got = seen.get("app_mention")
    assert got["retry"] == (["1"], ["http_timeout"]) and got["body"]["event_id"] == event_id


def test_home_tab_and_a_click_in_it(fake: FakeSlack, driver: SlackDriver, seen: Seen) -> None:
    driver.open_home(BO)
    assert seen.get("app_home_opened")["tab"] == "home"
    home = wait_for(lambda: fake.home(BO))
    driver.click_in_view(BO, "home-refresh")
    body = seen.get("home-refresh")
    assert body["container"] == {"type": "view", "view_id": home["id"]}
    assert body["view"]["type"] == "home" and "response_url" not in body


# --- signatures -----------------------------------------------------------------------------


def test_signatures_are_checked(driver: SlackDriver) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    good = driver.send(body, "application/json")
    assert good.status == 200 and good.body == {"challenge": "c-123"}
    assert driver.send(body, "application/json", signature="v0=" + "0" * 64).status == 401
    assert driver.send(body, "application/json", signature="").status == 401
    assert driver.send(body, "application/json", timestamp=int(time.time()) - 600).status == 401
