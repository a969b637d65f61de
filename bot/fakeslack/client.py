"""The local workspace's web client: what Slack's own client does, over the fake workspace.

The page (bot/fakeslack/web/) reads the workspace as a person sees it and acts through the
SlackDriver, so every click, submission and command reaches the app's request URL as a signed
request shaped as Slack shapes it. The app never talks to this module: it only answers Slack.

    GET  /client/workspace             the team, the app, its slash commands, the people
    GET  /client/state?user=&channel=&thread=
                                       what that person sees: sidebar, history, thread, modals
    GET  /client/wait?since=N          long poll: answers when the workspace changed after N
    POST /client/<act>                 click, view-action, submit, close, command, message, home
"""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .driver import ACK_DEADLINE_SECONDS, DriverResult, SlackDriver
from .fake import FakeSlack
from .model import SlackError
from .payloads import with_block_ids

WEB = Path(__file__).with_name("web")
HISTORY = 150  # the newest top-level messages sent for a channel; older ones are not drawn
WAIT_SECONDS = 25.0  # a long poll answers at least this often, so proxies keep it open

JSON = dict[str, Any]


class ClientError(Exception):
    """Something the person could not do in Slack's client either; the page shows the reason."""


class Changes:
    """A counter of workspace changes that long polls wait on."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = threading.Condition()

    def bump(self, _event: JSON) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, since: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.version > since, timeout)
            return self.version


class WebClient:
    """Answers the page's requests; `app` names the installed app and its slash commands."""

    def __init__(
        self, fake: FakeSlack, driver: SlackDriver, app: JSON, default_channel: str = "general"
    ) -> None:
        self.fake, self.driver, self.app = fake, driver, app
        self.default_channel = default_channel
        self.changes = Changes()
        fake.subscribe(self.changes.bump)
        self.actions: dict[str, Callable[[JSON], Any]] = {
            "click": self.click,
            "view-action": self.view_action,
            "submit": self.submit,
            "close": self.close,
            "command": self.command,
            "message": self.message,
            "home": self.open_home,
            "shortcut": self.shortcut,
            "dismiss": self.dismiss,
        }

    # --- HTTP ---------------------------------------------------------------------------------

    def get(self, path: str, query: JSON) -> tuple[int, bytes, str]:
        if path in ("", "/", "/index.html"):
            return _static("index.html")
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        pages = {"/client/workspace": self.workspace, "/client/state": self.state}
        if path in pages:
            return _answer(lambda: pages[path](query))
        if path == "/client/wait":
            since = int(query.get("since") or 0)
            return _answer(lambda: {"version": self.changes.wait(since, WAIT_SECONDS)})
        return 404, b"not found", "text/plain; charset=utf-8"

    def post(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        act = self.actions.get(path.removeprefix("/client/"))
        if act is None:
            return 404, b"not found", "text/plain; charset=utf-8"
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "the request is not JSON"})
        return _answer(lambda: act(request))

    # --- reading ------------------------------------------------------------------------------

    def workspace(self, _query: JSON) -> JSON:
        ws = self.fake.workspace
        people = [u for u in self.fake.users() if not u["is_bot"] and not u["deleted"]]
        return {
            "team": {"id": ws.team_id, "name": ws.team_name},
            "app": self.app | {"bot_user_id": ws.bot_user_id},
            "people": people,
            "default_channel": self.default_channel,
        }

    def state(self, query: JSON) -> JSON:
        user = self._person(query.get("user"))
        version = self.changes.version  # read first: a change after it triggers another fetch
        ws = self.fake.workspace
        with ws.lock:
            channels = [self._sidebar_entry(c, user) for c in ws.channels.values()]
            channels = [c for c in channels if c is not None]
            wanted = query.get("channel") or ""
            shown = {c["id"]: c["id"] for c in channels} | {"home": "home"}
            shown |= {c["name"]: c["id"] for c in channels if not c["is_im"]}
            where = shown.get(wanted, "")  # by id or by name; "" when this person cannot see it
            if wanted == "app":  # the app's Messages tab: its DM with this person, if any yet
                dm = [c["id"] for c in channels if c.get("with") == ws.bot_user_id]
                where = dm[0] if dm else "app"
            answer: JSON = {"version": version, "channels": channels, "channel": where}
            answer["names"] = {
                c.id: c.name
                for c in ws.channels.values()
                if not (c.is_im or c.is_mpim) and (not c.is_private or user in c.members)
            }
            if where == "app":
                answer["messages"] = []
            elif where and where != "home":
                answer["messages"] = self._history(where, user)
                if query.get("thread"):
                    answer["thread"] = self._thread(where, query["thread"], user)
            answer["modals"] = self._modals(user)
            home = ws.views.get(ws.homes.get(user, ""))
            answer["home"] = self._view(home) if home else None
        return answer

    def _sidebar_entry(self, channel: Any, user: str) -> JSON | None:
        if user not in channel.members:
            return None
        ws = self.fake.workspace
        newest = max((m.ts for m in ws.top_level(channel.id)), default="0")
        entry = {"id": channel.id, "name": channel.name, "is_private": channel.is_private}
        entry |= {"is_im": channel.is_im, "is_archived": channel.is_archived}
        entry |= {"topic": channel.topic, "latest": newest}
        if channel.is_im:
            others = [m for m in channel.members if m != user] or [user]
            entry["with"] = others[0]
        return entry

    def _history(self, channel_id: str, user: str) -> list[JSON]:
        ws = self.fake.workspace
        shown = [m.to_record() for m in ws.top_level(channel_id)][-HISTORY:]
        oldest = shown[0]["ts"] if len(shown) == HISTORY else "0"
        mine = [
            _ephemeral(e, ws.bot_user_id)
            for e in ws.ephemerals
            if e["channel"] == channel_id and e["user"] == user and not e.get("thread_ts")
            if e["ts"] > oldest and not e.get("dismissed")
        ]
        return sorted(shown + mine, key=lambda m: float(m["ts"]))

    def _thread(self, channel_id: str, ts: str, user: str) -> JSON | None:
        ws = self.fake.workspace
        messages = sorted(ws.thread(channel_id, ts), key=lambda m: float(m.ts))
        if not messages:
            return None
        mine = [
            _ephemeral(e, ws.bot_user_id)
            for e in ws.ephemerals
            if e["channel"] == channel_id and e["user"] == user and e.get("thread_ts") == ts
            if not e.get("dismissed")
        ]
        shown = [m.to_record() for m in messages] + mine
        return {"ts": ts, "messages": sorted(shown, key=lambda m: float(m["ts"]))}

    def _modals(self, user: str) -> list[JSON]:
        ws = self.fake.workspace
        return [self._view(ws.views[view_id]) for view_id in ws.modal_stacks.get(user) or []]

    def _view(self, view: Any) -> JSON:
        """As Slack's client holds it: every block has its block_id, given or assigned."""
        ws = self.fake.workspace
        shown = view.to_api(ws.team_id, ws.bot_id, ws.app_id)
        return shown | {"blocks": with_block_ids(shown["blocks"])}

    # --- acting -------------------------------------------------------------------------------

    def click(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        result = self.driver.click(
            user,
            _text(request, "channel"),
            _text(request, "ts"),
            _text(request, "action_id"),
            request.get("option"),
        )
        return _outcome(result)

    def view_action(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        result = self.driver.click_in_view(
            user,
            _text(request, "action_id"),
            request.get("option"),
            view_id=request.get("view_id"),
            values=request.get("values") or {},
        )
        return _outcome(result)

    def submit(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        result = self.driver.submit(user, request.get("view_id"), request.get("values") or {})
        outcome = _outcome(result)
        body = result.body if isinstance(result.body, dict) else {}
        if body.get("response_action") == "errors":
            outcome["errors"] = body.get("errors") or {}
        return outcome

    def close(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        return _outcome(self.driver.close_view(user, request.get("view_id")))

    def command(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        typed = _text(request, "text").strip()
        name, _, text = typed.partition(" ")
        known = {c["command"] for c in self.app.get("commands", [])}
        if name not in known:
            raise ClientError(f"{name} is not a valid command. Commands here: {sorted(known)}")
        channel = request.get("channel") or user
        return _outcome(self.driver.command(user, name, text.strip(), channel=channel))

    def message(self, request: JSON) -> JSON:
        """A person writes in a channel or thread; Slack would tell apps subscribed to it."""
        user = self._person(request.get("user"))
        text = _text(request, "text").strip()
        if not text:
            raise ClientError("Write something first.")
        channel = self.fake.channel_id(_text(request, "channel"))
        members = next(c["members"] for c in self.fake.channels() if c["id"] == channel)
        if user not in members:
            raise ClientError("Join the channel to write in it.")
        ts = self.fake.add_message(channel, user, text, thread_ts=request.get("thread_ts"))
        return {"ok": True, "ts": ts}

    def shortcut(self, request: JSON) -> JSON:
        user = self._person(request.get("user"))
        channel, ts = _text(request, "channel"), _text(request, "ts")
        callback_id = _text(request, "callback_id")
        return _outcome(self.driver.message_shortcut(user, channel, ts, callback_id))

    def open_home(self, request: JSON) -> JSON:
        return _outcome(self.driver.open_home(self._person(request.get("user"))))

    def dismiss(self, request: JSON) -> JSON:
        """'Dismiss message' under an ephemeral message: it leaves this person's view."""
        user, ts = self._person(request.get("user")), _text(request, "ts")
        with self.fake.workspace.transaction() as ws:
            for record in ws.ephemerals:
                if record["ts"] == ts and record["user"] == user:
                    record["dismissed"] = True
                    ws.emit("ephemeral_dismissed", ts=ts, user=user)
        return {"ok": True}

    def _person(self, user: Any) -> str:
        people = {u["id"] for u in self.fake.users() if not u["is_bot"] and not u["deleted"]}
        if user not in people:
            raise ClientError(f"no person {user!r} in this workspace")
        return str(user)


def _ephemeral(record: JSON, app_user: str) -> JSON:
    """An ephemeral message as its one reader sees it: from the app, marked as only theirs."""
    return record | {"ephemeral": True, "user": app_user, "to": record["user"]}


def _text(request: JSON, key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise ClientError(f"missing {key}")
    return value


def _outcome(result: DriverResult | None) -> JSON:
    """What the person sees of the app's answer, as Slack's client would show it."""
    if result is None:
        return {"ok": True, "sent": False}
    if result.status != 200:
        return {"ok": False, "error": f"The app answered HTTP {result.status}."}
    if result.elapsed > ACK_DEADLINE_SECONDS:
        return {"ok": False, "error": "The app did not respond in time (3 seconds)."}
    return {"ok": True, "sent": True}


def _answer(work: Callable[[], JSON]) -> tuple[int, bytes, str]:
    try:
        return _json(200, work())
    except (ClientError, KeyError, LookupError, PermissionError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        return _json(400, {"error": str(message)})
    except SlackError as error:  # Slack refused the app's answer: the person sees an error
        return _json(200, {"ok": False, "error": f"The app's answer was refused: {error.error}"})


def _json(status: int, data: JSON) -> tuple[int, bytes, str]:
    return status, json.dumps(data).encode(), "application/json; charset=utf-8"


def _static(name: str) -> tuple[int, bytes, str]:
    path = (WEB / name).resolve()
    if WEB.resolve() not in path.parents or not path.is_file():
        return 404, b"not found", "text/plain; charset=utf-8"
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith("javascript"):
        kind += "; charset=utf-8"
    return 200, path.read_bytes(), kind


def install_app(
    fake: FakeSlack,
    manifest: JSON,
    request_url: str,
    signing_secret: str,
    default_channel: str = "general",
) -> WebClient:
    """Install an app from its manifest, as a workspace admin would, and serve the web client.

    Only what the manifest declares reaches the app: its slash commands, its message shortcuts,
    its Home tab, all sent to `request_url` signed with `signing_secret`.
    """
    driver = SlackDriver(fake, bot_url=request_url, signing_secret=signing_secret, path="")
    features = manifest.get("features") or {}
    keep = ("command", "description", "usage_hint")
    app = {
        "name": (manifest.get("display_information") or {}).get("name", "App"),
        "commands": [{k: c.get(k, "") for k in keep} for c in features.get("slash_commands") or []],
        "shortcuts": [dict(s) for s in features.get("shortcuts") or []],
    }
    client = WebClient(fake, driver, app, default_channel)
    fake.attach_client(client)
    return client
