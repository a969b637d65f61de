"""The in-memory workspace: users, channels, messages, views and files, behind one lock.

Every change emits an event (a dict with a "type") to subscribers. Events are collected while the
lock is held and delivered after it is released, so a subscriber may query the workspace freely.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .limits import Limits
from .model import Call, Channel, File, Message, SlackError, User, View

logger = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], None]


@dataclass
class Trigger:
    user: str
    expires: float
    used: bool = False


@dataclass
class ResponseHook:
    id: str
    channel: str
    user: str
    expires: float
    uses_left: int
    message_ts: str | None = None


class Workspace:
    def __init__(self, team_id: str, bot_user_id: str, limits: Limits) -> None:
        self.lock = threading.RLock()
        self.limits = limits
        self.team_id = team_id
        self.team_name = "Fake Workspace"
        self.bot_user_id = bot_user_id
        self.bot_id = "B0BOT001"
        self.app_id = "A0FAKE01"
        self.root_url = "http://127.0.0.1/"
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.dms: dict[frozenset[str], str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.files: dict[str, File] = {}
        self.usergroups: dict[str, list[str]] = {}  # user group id -> its members
        self.triggers: dict[str, Trigger] = {}
        self.hooks: dict[str, ResponseHook] = {}
        self.calls: list[Call] = []
        self.notifications: list[dict[str, Any]] = []
        self.unsafe_params: list[dict[str, Any]] = []
        self._subscribers: list[EventCallback] = []
        self._pending: list[dict[str, Any]] = []
        self._depth = 0
        self._counters: dict[str, int] = {}
        self._last_ts = 0
        self.users[bot_user_id] = User(bot_user_id, "escalation-bot", "Escalation Bot", is_bot=True)

    # --- locking and events -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Workspace]:
        """Hold the lock; deliver the events emitted meanwhile once the outermost block exits."""
        with self.lock:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                events: list[dict[str, Any]] = []
                if self._depth == 0:
                    events, self._pending = self._pending, []
        self._deliver(events)

    def emit(self, event_type: str, /, **data: Any) -> None:
        self._pending.append({"type": event_type, **data})

    def subscribe(self, callback: EventCallback) -> None:
        with self.lock:
            self._subscribers.append(callback)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self.lock:
            subscribers = list(self._subscribers)
        for event in events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:  # a broken viewer must not break the API it watches
                    logger.exception("fake slack subscriber failed on %s", event.get("type"))

    # --- identifiers ----------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return f"{prefix}{self._counters[prefix]:07d}"

    def new_ts(self) -> str:
        """Slack ts: seconds.microseconds, unique and increasing within the workspace."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 100)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # --- users ----------------------------------------------------------------------------

    def add_user(self, user: User) -> str:
        with self.transaction():
            self.users[user.id] = user
            self.emit("user_added", user=user.id)
            return user.id

    def require_user(self, user_id: str | None) -> User:
        user = self.users.get(user_id or "")
        if user is None or user.deleted:
            raise SlackError("user_not_found")
        return user

    def user_names(self) -> dict[str, str]:
        return {u.name.lower(): u.id for u in self.users.values()}

    # --- channels -------------------------------------------------------------------------

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def add_channel(self, name: str, is_private: bool, creator: str) -> Channel:
        channel = Channel(self.next_id("C"), name, is_private=is_private, creator=creator)
        self.channels[channel.id] = channel
        self.messages[channel.id] = {}
        self.emit("channel_created", channel=channel.id, name=name, is_private=is_private)
        return channel

    def join(self, channel: Channel, user_id: str) -> bool:
        if user_id in channel.members:
            return False
        channel.members.append(user_id)
        self.emit("member_joined_channel", channel=channel.id, user=user_id)
        return True

    def resolve(self, value: str | None) -> Channel | None:
        """A channel by id, name or #name; a user id means the bot's DM with that user."""
        if not value:
            return None
        if value in self.channels:
            return self.channels[value]
        if value[0] in "UW" and value in self.users:
            return self.open_dm([value])
        return self.channel_by_name(value)

    def require_channel(self, value: str | None) -> Channel:
        channel = self.resolve(value)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def require_postable(self, channel: Channel) -> None:
        """Public channels take posts without membership (chat:write.public); others do not."""
        if channel.is_archived:
            raise SlackError("is_archived")
        if channel.is_private and self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")

    def require_member(self, channel: Channel) -> None:
        if self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")

    def open_dm(self, user_ids: list[str]) -> Channel:
        key = frozenset([*user_ids, self.bot_user_id])
        if key in self.dms:
            return self.channels[self.dms[key]]
        is_im = len(key) <= 2
        channel_id = self.next_id("D" if is_im else "G")
        name = channel_id if is_im else "mpdm-" + "--".join(sorted(key))
        channel = Channel(channel_id, name, is_im=is_im, is_mpim=not is_im, members=sorted(key))
        channel.creator = self.bot_user_id
        self.channels[channel_id], self.messages[channel_id] = channel, {}
        self.dms[key] = channel_id
        self.emit("channel_created", channel=channel_id, name=name, is_private=True)
        return channel

    # --- messages -------------------------------------------------------------------------

    def find_message(self, channel_id: str, ts: str | None) -> Message | None:
        return self.messages.get(channel_id, {}).get(ts or "")

    def require_message(self, channel_id: str, ts: str | None) -> Message:
        message = self.find_message(channel_id, ts)
        if message is None:
            raise SlackError("message_not_found")
        return message

    def thread_root(self, channel_id: str, thread_ts: str) -> Message:
        """The parent of a thread; replying to a reply lands in the same thread, as in Slack."""
        message = self.find_message(channel_id, thread_ts)
        if message is None:
            raise SlackError("thread_not_found")
        if message.is_reply and message.thread_ts:
            return self.require_message(channel_id, message.thread_ts)
        return message

    def post(self, message: Message) -> Message:
        """Store a new message (ts assigned here) and bump its thread parent."""
        message.ts = self.new_ts()
        if message.thread_ts:
            parent = self.thread_root(message.channel, message.thread_ts)
            message.thread_ts = parent.thread_ts = parent.ts
            parent.reply_count += 1
            parent.latest_reply = message.ts
            if message.user not in parent.reply_users:
                parent.reply_users.append(message.user)
        self.messages[message.channel][message.ts] = message
        self.emit("message", channel=message.channel, ts=message.ts, message=message.to_record())
        return message

    def edit(self, message: Message, text: str, blocks: list[dict[str, Any]]) -> None:
        message.text, message.blocks = text, blocks
        message.edited = {"user": self.bot_user_id, "ts": self.new_ts()}
        self.emit(
            "message_changed", channel=message.channel, ts=message.ts, message=message.to_record()
        )

    def delete(self, message: Message) -> None:
        """Remove a message; a parent with replies stays as a tombstone, as in Slack."""
        store = self.messages[message.channel]
        if message.reply_count:
            message.subtype, message.text, message.blocks = (
                "tombstone",
                "This message was deleted.",
                [],
            )
        else:
            store.pop(message.ts, None)
        if message.is_reply and message.thread_ts in store:
            store[message.thread_ts].reply_count -= 1
        self.emit("message_deleted", channel=message.channel, ts=message.ts)

    def top_level(self, channel_id: str) -> list[Message]:
        return [m for m in self.messages.get(channel_id, {}).values() if m.in_channel_view]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        store = self.messages.get(channel_id, {})
        return [m for m in store.values() if m.ts == ts or m.thread_ts == ts]

    def add_ephemeral(self, record: dict[str, Any]) -> dict[str, Any]:
        record["ts"] = self.new_ts()
        self.ephemerals.append(record)
        self.emit("ephemeral", **record)
        return record

    def record_mentions(self, message: Message, found: list[tuple[str, str]], method: str) -> None:
        for kind, target in found:
            note = {"kind": kind, "target": target or message.channel, "channel": message.channel}
            note.update(ts=message.ts, user=message.user, method=method)
            self.notifications.append(note)
            self.emit("notification", **note)

    # --- trigger ids and response urls ----------------------------------------------------

    def mint_trigger(self, user_id: str) -> str:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        expires = time.monotonic() + self.limits.trigger_ttl_seconds
        self.triggers[trigger_id] = Trigger(user_id, expires)
        return trigger_id

    def exchange_trigger(self, trigger_id: str | None) -> str:
        """The user a trigger id belongs to; each one opens a single view within its lifetime."""
        if not trigger_id:
            raise SlackError("invalid_arguments")
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if time.monotonic() > trigger.expires:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        trigger.used = True
        return trigger.user

    def mint_hook(self, channel_id: str, user_id: str, message_ts: str | None) -> str:
        hook_id = secrets.token_urlsafe(18)
        expires = time.monotonic() + self.limits.response_url_ttl_seconds
        hook = ResponseHook(
            hook_id, channel_id, user_id, expires, self.limits.response_url_max_uses
        )
        hook.message_ts = message_ts
        self.hooks[hook_id] = hook
        return f"{self.root_url}response/{hook_id}"

    def use_hook(self, hook_id: str) -> ResponseHook:
        hook = self.hooks.get(hook_id)
        if hook is None:
            raise SlackError("invalid_url")
        if time.monotonic() > hook.expires:
            raise SlackError("expired_url")
        if hook.uses_left <= 0:
            raise SlackError("used_url")
        hook.uses_left -= 1
        return hook
