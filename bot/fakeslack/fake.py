"""FakeSlack: a fake Slack Web API on 127.0.0.1 for tests, the demo and the local web client."""

from __future__ import annotations

import copy
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .faults import Fault, FaultBook
from .limits import Limits, RateLimiter
from .model import Call, Channel, Message, User
from .server import Api, FakeHTTPServer
from .workspace import EventCallback, Workspace

if TYPE_CHECKING:
    from .client import WebClient


class FakeSlack:
    """Start it, point `WebClient(token=..., base_url=fake.url)` at it, inspect what happened."""

    def __init__(
        self,
        bot_token: str = "xoxb-fake",
        limits: Limits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = "T0FAKE01",
        bot_user_id: str = "U0BOT001",
    ) -> None:
        self.bot_token = bot_token
        self.limits = limits or Limits()
        self.host, self._port = host, port
        self.workspace = Workspace(team_id, bot_user_id, self.limits)
        self.rate_limiter = RateLimiter(self.limits)
        self._faults = FaultBook()
        self._api = Api(self.workspace, self.rate_limiter, self._faults, bot_token)
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._server = FakeHTTPServer((self.host, self._port), self._api)
        self._port = self._server.server_address[1]
        self.workspace.root_url = f"http://{self.host}:{self._port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll: keep it short
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return self.workspace.root_url

    @property
    def url(self) -> str:
        """The Web API base URL, with the trailing slash slack-sdk expects."""
        return f"{self.root_url}api/"

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.workspace.bot_id

    # --- seeding --------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str = "",
        tz: str = "UTC",
        email: str | None = None,
        is_bot: bool = False,
        title: str = "",
    ) -> str:
        user = User(user_id, name, real_name, tz, email, is_bot, title=title)
        return self.workspace.add_user(user)

    def add_channel(
        self,
        name: str,
        is_private: bool = False,
        members: list[str] | None = None,
        include_bot: bool = True,
    ) -> str:
        """Create a channel, or add members to an existing one; the bot joins unless told not."""
        ws = self.workspace
        with ws.transaction():
            channel = ws.channel_by_name(name) or ws.add_channel(name, is_private, ws.bot_user_id)
            wanted = [*(members or []), *([ws.bot_user_id] if include_bot else [])]
            for user_id in wanted:
                ws.join(channel, user_id)
            return channel.id

    def set_usergroup(self, usergroup_id: str, members: list[str]) -> str:
        """Create a user group (an id such as S0RAPID01) or replace its members."""
        ws = self.workspace
        with ws.transaction():
            if unknown := [u for u in members if u not in ws.users]:
                raise KeyError(f"no user {unknown[0]!r} in the fake workspace")
            ws.usergroups[usergroup_id] = list(members)
            ws.emit("subteam_members_changed", subteam_id=usergroup_id, users=list(members))
            return usergroup_id

    def add_message(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """A message written by a person (or anyone but the bot); returns its ts."""
        ws = self.workspace
        with ws.transaction():
            message = Message("", self._channel(channel).id, user, text, blocks or [])
            message.thread_ts = thread_ts
            return ws.post(message).ts

    def channel_id(self, name: str) -> str:
        return self._channel(name).id

    def channel_name(self, channel_id: str) -> str:
        return self._channel(channel_id).name

    def _channel(self, name_or_id: str) -> Channel:
        with self.workspace.lock:
            channel = self.workspace.resolve(name_or_id)
        if channel is None:
            raise KeyError(f"no channel {name_or_id!r} in the fake workspace")
        return channel

    # --- queries --------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages shown in the channel (top level and broadcast replies), oldest first."""
        with self.workspace.lock:
            return [m.to_record() for m in self.workspace.top_level(self._channel(channel).id)]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """A thread's replies, oldest first, without its parent."""
        with self.workspace.lock:
            thread = self.workspace.thread(self._channel(channel).id, thread_ts)
            return [m.to_record() for m in thread if m.ts != thread_ts]

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict]:
        channel_id = self._channel(channel).id if channel else None
        with self.workspace.lock:
            found = [
                e
                for e in self.workspace.ephemerals
                if channel_id in (None, e["channel"]) and user in (None, e["user"])
            ]
            return copy.deepcopy(found)

    def calls(self, method: str | None = None) -> list[Call]:
        with self.workspace.lock:
            return [c for c in self.workspace.calls if method in (None, c.method)]

    def reset_calls(self) -> None:
        with self.workspace.lock:
            self.workspace.calls.clear()

    def notifications(self) -> list[dict[str, Any]]:
        with self.workspace.lock:
            return copy.deepcopy(self.workspace.notifications)

    def unsafe_params(self) -> list[dict[str, Any]]:
        """Every call that sent link_names or parse=full, which turn @words into pings."""
        with self.workspace.lock:
            return copy.deepcopy(self.workspace.unsafe_params)

    @property
    def link_names_seen(self) -> bool:
        return any(p["param"] == "link_names" for p in self.unsafe_params())

    @property
    def parse_full_seen(self) -> bool:
        return any(p["param"] == "parse" for p in self.unsafe_params())

    def users(self) -> list[dict[str, Any]]:
        ws = self.workspace
        with ws.lock:
            return [u.to_api(ws.team_id) for u in ws.users.values()]

    def channels(self) -> list[dict[str, Any]]:
        ws = self.workspace
        with ws.lock:
            return [
                c.to_api(ws.bot_user_id, True) | {"members": list(c.members)}
                for c in ws.channels.values()
            ]

    def views(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every modal and Home tab opened, newest state, in creation order."""
        ws = self.workspace
        with ws.lock:
            return [
                v.to_api(ws.team_id, ws.bot_id, ws.app_id) | {"user": v.user}
                for v in ws.views.values()
                if user in (None, v.user)
            ]

    def home(self, user: str) -> dict[str, Any] | None:
        ws = self.workspace
        with ws.lock:
            view = ws.views.get(ws.homes.get(user, ""))
            return view.to_api(ws.team_id, ws.bot_id, ws.app_id) if view else None

    def files(self) -> list[dict[str, Any]]:
        ws = self.workspace
        with ws.lock:
            return [f.to_api(ws.root_url) | {"content": f.data} for f in ws.files.values()]

    def attach_client(self, client: WebClient) -> None:
        """Serve the web client (bot/fakeslack/client.py) at this server's root."""
        self._api.client = client

    def subscribe(self, callback: EventCallback) -> None:
        """callback(event) after every workspace change; events carry a "type" key."""
        self.workspace.subscribe(callback)

    # --- interactivity helpers -------------------------------------------------------------

    def trigger_id(self, user: str) -> str:
        """A trigger id as Slack sends with a click or command: one view, within 3 seconds."""
        with self.workspace.lock:
            return self.workspace.mint_trigger(user)

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url on the fake: 30 minutes, 5 uses; message_ts is the clicked message."""
        channel_id = self._channel(channel).id
        with self.workspace.lock:
            return self.workspace.mint_hook(channel_id, user, message_ts)

    # --- failure injection ------------------------------------------------------------------

    def fail(
        self,
        method: str = "*",
        status: int | None = 503,
        times: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        reset: bool = False,
        body: str | dict[str, Any] | None = None,
    ) -> None:
        """Make `method` ("*" for all) fail: 429, 5xx page, custom body, slowness or a reset.

        status None (or 200) with only `delay` slows calls down and then answers normally.
        Without `times` or `seconds` the fault lasts until clear_faults().
        """
        until = time.monotonic() + seconds if seconds is not None else None
        fault = Fault(method, status, times, until, retry_after, delay, reset, body)
        self._faults.add(fault)

    def outage(self, seconds: float) -> None:
        self.fail("*", status=503, seconds=seconds)

    def clear_faults(self) -> None:
        self._faults.clear()

    def reset_rate_limits(self) -> None:
        self.rate_limiter.reset()
