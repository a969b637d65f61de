"""SlackDriver: plays the Slack platform's side of interactivity against a running bot.

Every request goes to the bot's real endpoint, signed and shaped as Slack sends it; state (messages,
views, users, channels, trigger ids, response URLs) comes from the fake workspace.

    driver = SlackDriver(fake, bot_url="http://127.0.0.1:8000", signing_secret=secret)
    driver.click(user="U0AMIRA01", channel="social-triage", message_ts=ts, action_id="case-claim")
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier

from . import payloads
from .api_chat import blocks_error
from .api_views import MAX_MODAL_STACK
from .blocks import validate_message, validate_view
from .fake import FakeSlack
from .model import Channel, Message, SlackError, View
from .payloads import JSON, Origin, Outgoing, Resolver, form_payload
from .workspace import Workspace

ACK_DEADLINE_SECONDS = 3.0  # Slack gives up on an unacknowledged interaction after 3 s
REMEMBERED_REQUESTS = 1000


@dataclass
class DriverResult:
    """The bot's HTTP answer; `sent` is the payload (or form) the driver delivered."""

    status: int
    body: dict[str, Any] | str | None
    headers: dict[str, str]
    sent: dict[str, Any] | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Target:
    """A message a person sees: in the channel's history, or ephemeral to them alone."""

    channel: JSON
    ts: str
    blocks: list[JSON]
    message: JSON | None
    thread_ts: str | None


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any] | str | None:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class SlackDriver:
    def __init__(
        self,
        fake: FakeSlack,
        bot_url: str,
        signing_secret: str,
        *,
        path: str = "/slack/events",
        verification_token: str = "fake-verification-token",
        timeout: float = 10.0,
    ) -> None:
        self.fake = fake
        self.url = bot_url.rstrip("/") + path
        self.verification_token = verification_token
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)
        self._lock = threading.Lock()
        self._remembered: dict[Hashable, Outgoing] = {}
        self._resolve = Resolver(user=self._user_id, channel=lambda name: self._channel(name).id)

    # --- messages -----------------------------------------------------------------------------

    def click(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        option: Any = None,
        *,
        confirm: bool = True,
        retry: int = 0,
    ) -> DriverResult | None:
        """Click a button (or choose `option` in a select, overflow, radio...) in a message.

        confirm=False: the person pressed "cancel" in the element's confirm dialog; nothing is sent.
        retry=N resends this click's last payload with Slack's retry headers.
        """
        key = ("click", user, channel, message_ts, action_id, json.dumps(option))
        if retry and (remembered := self._recall(key)):
            return self._deliver(remembered, retry)
        target = self._target(user, channel, message_ts)
        block, element = payloads.find_element(target.blocks, action_id, f"message {message_ts}")
        if element.get("confirm") and not confirm:
            return None
        payload = self._message_action(user, target, block, element, option)
        return self._deliver(self._remember(key, form_payload(payload)), retry)

    def _message_action(
        self, user: str, target: Target, block: JSON, element: JSON, option: Any
    ) -> JSON:
        act = payloads.action(block, element, option, self._new_ts(), self._resolve)
        state: JSON = {}
        payloads.add_choice_state(state, block, act)
        container = {"type": "message", "message_ts": target.ts, "channel_id": target.channel["id"]}
        container["is_ephemeral"] = target.message is None
        if target.thread_ts:
            container["thread_ts"] = target.thread_ts
        payload = self._origin(user).base("block_actions") | {
            "container": container,
            "trigger_id": self.fake.trigger_id(user),
            "channel": target.channel,
            "state": {"values": state},
            "response_url": self.fake.response_url(target.channel["id"], user, target.ts),
            "actions": [act],
        }
        if target.message is not None:  # Slack leaves the message out for ephemeral ones
            payload["message"] = target.message
        return payload

    def message_shortcut(
        self, user: str, channel: str, message_ts: str, callback_id: str
    ) -> DriverResult:
        target = self._target(user, channel, message_ts)
        if target.message is None:
            raise KeyError(f"message {message_ts} is ephemeral: Slack offers no shortcuts on it")
        payload = self._origin(user).base("message_action") | {
            "action_ts": self._new_ts(),
            "callback_id": callback_id,
            "trigger_id": self.fake.trigger_id(user),
            "response_url": self.fake.response_url(target.channel["id"], user, message_ts),
            "channel": target.channel,
            "message_ts": message_ts,
            "message": target.message,
        }
        return self._deliver(form_payload(payload))

    def global_shortcut(self, user: str, callback_id: str) -> DriverResult:
        payload = self._origin(user).base("shortcut") | {
            "action_ts": self._new_ts(),
            "callback_id": callback_id,
            "trigger_id": self.fake.trigger_id(user),
        }
        return self._deliver(form_payload(payload))

    def command(
        self, user: str, command: str, text: str = "", channel: str | None = None
    ) -> DriverResult:
        """A slash command typed in `channel` (the person's DM with the bot by default)."""
        if not command.startswith("/"):
            raise ValueError(f"a slash command starts with '/': {command!r}")
        where = self._channel_seen_by(user, channel or user)
        urls = {"response_url": self.fake.response_url(where["id"], user)}
        urls["trigger_id"] = self.fake.trigger_id(user)
        fields = self._origin(user).command_form(where, command, text, urls)
        result = self._deliver(payloads.form_fields(fields))
        if result.status == 200 and result.elapsed <= ACK_DEADLINE_SECONDS and result.body:
            answer = result.body if isinstance(result.body, dict) else {"text": result.body}
            with _blaming(result), self.fake.workspace.transaction() as ws:
                _show_command_answer(ws, where["id"], user, answer)
        return result

    # --- views --------------------------------------------------------------------------------

    def click_in_view(
        self,
        user: str,
        action_id: str,
        option: Any = None,
        *,
        view_id: str | None = None,
        values: JSON | None = None,
        confirm: bool = True,
    ) -> DriverResult | None:
        """Click in the person's visible modal (or their Home tab); values fill its inputs."""
        view = self._visible_view(user, view_id)
        block, element = payloads.find_element(view["blocks"], action_id, f"view {view['id']}")
        if element.get("confirm") and not confirm:
            return None
        act = payloads.action(block, element, option, self._new_ts(), self._resolve)
        state = payloads.input_values(view["blocks"], values or {}, self._resolve, strict=False)
        payloads.add_choice_state(state, block, act)
        view["state"] = {"values": state}
        payload = self._origin(user).base("block_actions") | {
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self.fake.trigger_id(user),
            "view": view,
            "actions": [act],
        }
        return self._deliver(form_payload(payload))

    def submit(
        self, user: str, view_id: str | None = None, values: JSON | None = None
    ) -> DriverResult:
        """Submit the person's visible modal; the bot's response_action is applied as Slack would.

        Raises ValueError when Slack's client would refuse (a required input left empty) and
        SlackError when Slack would reject the bot's answer (an invalid view to update or push).
        """
        view = self._modal_shown(user, view_id)
        state = payloads.input_values(view["blocks"], values or {}, self._resolve, strict=True)
        view["state"] = {"values": state}
        payload = self._origin(user).base("view_submission") | {
            "trigger_id": self.fake.trigger_id(user),
            "view": view,
            "response_urls": payloads.response_urls(
                view["blocks"], state, lambda channel: self.fake.response_url(channel, user)
            ),
        }
        result = self._deliver(form_payload(payload))
        self._apply_response(user, view["id"], result)
        return result

    def close_view(self, user: str, view_id: str | None = None) -> DriverResult | None:
        """The person closes their visible modal; the bot hears of it only with notify_on_close."""
        view = self._modal_shown(user, view_id)
        with self.fake.workspace.transaction() as ws:
            _close(ws, user, view["id"])
        if not view.get("notify_on_close"):
            return None
        payload = self._origin(user).base("view_closed") | {"view": view, "is_cleared": False}
        return self._deliver(form_payload(payload))

    def open_home(self, user: str) -> DriverResult:
        """app_home_opened for the person's Home tab, with the published view if there is one."""
        self._user_id(user)
        with self.fake.workspace.transaction() as ws:
            dm = ws.open_dm([user]).id
        event: JSON = {"type": "app_home_opened", "user": user, "channel": dm, "tab": "home"}
        home = self.fake.home(user)
        if home is not None:
            event["view"] = home
        return self.event(event)

    def _apply_response(self, user: str, view_id: str, result: DriverResult) -> None:
        if result.status != 200 or result.elapsed > ACK_DEADLINE_SECONDS:
            return  # Slack shows the person an error and leaves the modal as it was
        body = result.body if isinstance(result.body, dict) else {}
        with _blaming(result), self.fake.workspace.transaction() as ws:
            _apply_response_action(ws, user, view_id, body)

    # --- events -------------------------------------------------------------------------------

    def event(
        self,
        event: JSON,
        event_id: str | None = None,
        retry: int = 0,
        retry_reason: str = "http_timeout",
    ) -> DriverResult:
        """An Events API delivery; retry=N with a known event_id resends the same envelope."""
        if retry and event_id and (remembered := self._recall(("event", event_id))):
            return self._deliver(remembered, retry, retry_reason)
        origin, ws = self._origin(self.fake.bot_user_id), self.fake.workspace
        event = {"event_ts": self._new_ts(), **event}
        envelope = origin.event_envelope(event, event_id, ws.bot_user_id)
        outgoing = Outgoing(json.dumps(envelope).encode(), "application/json", envelope)
        key = ("event", envelope["event_id"])
        return self._deliver(self._remember(key, outgoing), retry, retry_reason)

    # --- HTTP ---------------------------------------------------------------------------------

    def send(
        self,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> DriverResult:
        """A raw request, signed unless `signature` is given ("" sends no signature header)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        if signature is None:
            signature = self._verifier.generate_signature(timestamp=stamp, body=body) or ""
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp}
        if signature:
            sent["X-Slack-Signature"] = signature
        return self._post(body, sent | (headers or {}))

    def _deliver(
        self, outgoing: Outgoing, retry: int = 0, reason: str = "http_timeout"
    ) -> DriverResult:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason} if retry else {}
        result = self.send(outgoing.body, outgoing.content_type, headers)
        result.sent = outgoing.sent
        return result

    def _post(self, body: bytes, headers: dict[str, str]) -> DriverResult:
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, answer = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer = error.code, error.read(), error.headers
        elapsed = time.monotonic() - started
        parsed = _parse_body(raw, answer.get("Content-Type", ""))  # headers ignore case here
        return DriverResult(status, parsed, dict(answer), elapsed=elapsed)

    def _remember(self, key: Hashable, outgoing: Outgoing) -> Outgoing:
        with self._lock:
            self._remembered.pop(key, None)
            self._remembered[key] = outgoing
            if len(self._remembered) > REMEMBERED_REQUESTS:
                self._remembered.pop(next(iter(self._remembered)))
        return outgoing

    def _recall(self, key: Hashable) -> Outgoing | None:
        with self._lock:
            return self._remembered.get(key)

    # --- workspace lookups --------------------------------------------------------------------

    def _user_id(self, user_id: str) -> str:
        return self._user(user_id)["id"]

    def _user(self, user_id: str) -> JSON:
        found = next((u for u in self.fake.users() if u["id"] == user_id), None)
        if found is None or found["deleted"]:
            raise KeyError(f"no user {user_id!r} in the fake workspace")
        return found

    def _origin(self, user_id: str) -> Origin:
        user, ws = self._user(user_id), self.fake.workspace
        shown = {"id": user["id"], "username": user["name"], "name": user["name"]}
        team = {"id": ws.team_id, "domain": ws.team_name.lower().replace(" ", "-")}
        return Origin(shown | {"team_id": ws.team_id}, team, ws.app_id, self.verification_token)

    def _channel(self, name_or_id: str) -> Channel:
        """By id or name; a user id means the bot's DM with them (opened on first use, as Slack)."""
        with self.fake.workspace.transaction() as ws:
            channel = ws.resolve(name_or_id)
        if channel is None:
            raise KeyError(f"no channel {name_or_id!r} in the fake workspace")
        return channel

    def _channel_seen_by(self, user: str, name_or_id: str) -> JSON:
        channel = self._channel(name_or_id)
        hidden = channel.is_private or channel.is_im or channel.is_mpim
        if hidden and user not in channel.members:
            raise PermissionError(f"{user} is not in {channel.name}: they cannot see it")
        return {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name}

    def _target(self, user: str, channel: str, ts: str) -> Target:
        where = self._channel_seen_by(user, channel)
        with self.fake.workspace.lock:
            message = self.fake.workspace.find_message(where["id"], ts)
            if message is not None:
                thread = message.thread_ts if message.is_reply else None
                shown = message.to_api()
                blocks = payloads.with_block_ids(message.blocks)
                return Target(where, ts, blocks, shown | {"blocks": blocks}, thread)
        ephemeral = self._ephemeral(user, where["id"], ts)
        blocks = payloads.with_block_ids(ephemeral.get("blocks") or [])
        return Target(where, ts, blocks, None, ephemeral.get("thread_ts"))

    def _ephemeral(self, user: str, channel_id: str, ts: str) -> JSON:
        for record in self.fake.ephemerals(channel=channel_id):
            if record["ts"] == ts and record["user"] == user:
                return record
        raise KeyError(f"no message {ts} in {channel_id} that {user} can see")

    def _modal_shown(self, user: str, view_id: str | None) -> JSON:
        ws = self.fake.workspace
        with ws.lock:
            return _as_payload_view(ws, _top_modal(ws, user, view_id))

    def _visible_view(self, user: str, view_id: str | None) -> JSON:
        ws = self.fake.workspace
        with ws.lock:
            home = ws.homes.get(user)
            wants_home = view_id == home if view_id else not ws.modal_stacks.get(user)
            if home and wants_home:
                return _as_payload_view(ws, ws.views[home])
            return _as_payload_view(ws, _top_modal(ws, user, view_id))

    def _new_ts(self) -> str:
        with self.fake.workspace.lock:
            return self.fake.workspace.new_ts()


# --- what Slack does with the bot's answers ------------------------------------------------------
# Each takes the workspace inside a transaction: events reach subscribers once it ends.


@contextmanager
def _blaming(result: DriverResult) -> Iterator[None]:
    """An answer Slack refuses raises SlackError, carrying the HTTP result that held it."""
    try:
        yield
    except SlackError as error:
        error.extra["result"] = result
        raise


def _show_command_answer(ws: Workspace, channel_id: str, user: str, answer: JSON) -> None:
    """A command's immediate answer: shown to the person alone, unless it says in_channel."""
    text, blocks = str(answer.get("text") or ""), answer.get("blocks") or []
    errors = validate_message(blocks)
    if errors:
        raise blocks_error(errors)
    if not text and not blocks:
        return
    if answer.get("response_type") == "in_channel":
        message = Message("", channel_id, ws.bot_user_id, text, blocks, bot_id=ws.bot_id)
        ws.post(message)
        return
    record = {"channel": channel_id, "user": user, "text": text, "blocks": blocks}
    ws.add_ephemeral(record | {"thread_ts": None, "source": "command_response"})


# --- the modal stack, as Slack's client keeps it ------------------------------------------------


def _top_modal(ws: Workspace, user: str, view_id: str | None) -> View:
    """Only the top of the stack is on screen, so it is the only view a person can act in."""
    stack = ws.modal_stacks.get(user) or []
    if not stack:
        raise LookupError(f"{user} has no modal open")
    if view_id not in (None, stack[-1]):
        raise LookupError(f"view {view_id} is not the modal {user} sees (that is {stack[-1]})")
    return ws.views[stack[-1]]


def _as_payload_view(ws: Workspace, view: View) -> JSON:
    return payloads.payload_view(view.to_api(ws.team_id, ws.bot_id, ws.app_id), ws.team_id)


def _close(ws: Workspace, user: str, view_id: str | None) -> None:
    """Close view_id and whatever was pushed above it; None closes the whole stack."""
    stack = ws.modal_stacks.get(user) or []
    if view_id is not None and view_id not in stack:
        return
    keep = 0 if view_id is None else stack.index(view_id)
    for closed in reversed(stack[keep:]):
        ws.views[closed].closed = True
        ws.emit("view_closed", view=closed, user=user)
    del stack[keep:]


def _apply_response_action(ws: Workspace, user: str, view_id: str, body: JSON) -> None:
    """What Slack does with the bot's answer to a view_submission."""
    action = body.get("response_action")
    if action is None:
        _close(ws, user, view_id)
    elif action == "update":
        _update(ws, ws.views[view_id], body.get("view"))
    elif action == "push":
        _push(ws, user, body.get("view"))
    elif action == "clear":
        _close(ws, user, None)
    elif action != "errors":  # errors: the modal stays, showing them under its inputs
        raise SlackError("invalid_response_action", response_action=action)


def _checked_spec(ws: Workspace, spec: Any, current: View | None = None) -> JSON:
    """The fake's own views.* validation, so a bad response_action view fails as views.update."""
    if not isinstance(spec, dict):
        raise SlackError("invalid_arguments")
    errors = validate_view(spec)
    if spec.get("type") != "modal":
        errors.append("must be `modal` here [json-pointer:/view/type]")
    if errors:
        raise blocks_error(errors, "invalid_arguments")
    external_id = spec.get("external_id")
    others = [v.spec.get("external_id") for v in ws.views.values() if v is not current]
    if external_id and external_id in others:
        raise SlackError("duplicate_external_id")
    return spec


def _new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def _update(ws: Workspace, view: View, spec: Any) -> None:
    view.spec, view.hash = _checked_spec(ws, spec, view), _new_hash()
    ws.emit("view_updated", view=view.id, user=view.user, spec=view.spec)


def _push(ws: Workspace, user: str, spec: Any) -> None:
    spec = _checked_spec(ws, spec)
    stack = ws.modal_stacks.get(user) or []
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= MAX_MODAL_STACK:
        raise SlackError("push_limit_reached")
    view = View(ws.next_id("V"), user, "modal", spec, _new_hash(), stack[0], stack[-1])
    ws.views[view.id] = view
    stack.append(view.id)
    ws.emit("view_pushed", view=view.id, user=user, spec=spec)
