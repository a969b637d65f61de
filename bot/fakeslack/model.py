"""Plain records kept by the fake workspace, and their Slack API shapes."""

from __future__ import annotations

import copy
import mimetypes
import time
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SlackError(Exception):
    """A Web API error answered as HTTP 200 with {"ok": false, "error": ...}, like Slack."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(zoneinfo.ZoneInfo(tz)).utcoffset()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    title: str = ""  # the job title on the profile: "Billing lead"

    def to_api(self, team_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": self.real_name or self.name,
            "display_name": self.name,
            "title": self.title,
        }
        if self.email:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "deleted": self.deleted,
            "tz": self.tz,
            "tz_offset": _tz_offset(self.tz),
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "profile": profile,
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    members: list[str] = field(default_factory=list)
    creator: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False

    def to_api(self, bot_user_id: str, num_members: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not (self.is_im or self.is_mpim),
            "is_group": False,
            "is_im": self.is_im,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private or self.is_im or self.is_mpim,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": {"value": self.topic, "creator": self.creator, "last_set": 0},
            "purpose": {"value": self.purpose, "creator": self.creator, "last_set": 0},
        }
        if self.is_im:
            data["user"] = next((m for m in self.members if m != bot_user_id), bot_user_id)
        if num_members:
            data["num_members"] = len(self.members)
        return data


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reply_broadcast: bool = False
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    bot_id: str | None = None
    edited: dict[str, str] | None = None
    reply_users: list[str] = field(default_factory=list)
    reply_count: int = 0
    latest_reply: str | None = None
    reactions: list[dict[str, Any]] = field(default_factory=list)
    pinned_to: list[str] = field(default_factory=list)
    subtype: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def in_channel_view(self) -> bool:
        """Top-level messages and broadcast replies show in the channel's history."""
        return not self.is_reply or self.reply_broadcast

    def to_api(self, include_metadata: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user}
        data["text"] = self.text
        optional = {
            "subtype": self.subtype,
            "bot_id": self.bot_id,
            "thread_ts": self.thread_ts,
            "edited": self.edited,
            "latest_reply": self.latest_reply,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        for key in ("blocks", "attachments", "files", "reactions", "pinned_to"):
            if getattr(self, key):
                data[key] = copy.deepcopy(getattr(self, key))
        if self.reply_count:
            data["reply_count"] = self.reply_count
            data["reply_users"] = list(self.reply_users)
            data["reply_users_count"] = len(self.reply_users)
        if self.metadata and include_metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        return data

    def to_record(self) -> dict[str, Any]:
        """The shape the fake's own query helpers return: every key always present."""
        data = self.to_api()
        data.setdefault("blocks", [])
        data.update(
            channel=self.channel,
            reply_count=self.reply_count,
            edited=copy.deepcopy(self.edited),
            metadata=copy.deepcopy(self.metadata),
            thread_ts=self.thread_ts,
            reply_broadcast=self.reply_broadcast,
        )
        return data


@dataclass
class View:
    id: str
    user: str
    type: str
    spec: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    closed: bool = False

    def to_api(self, team_id: str, bot_id: str, app_id: str) -> dict[str, Any]:
        data = copy.deepcopy(self.spec)
        data.update(
            id=self.id,
            team_id=team_id,
            type=self.type,
            hash=self.hash,
            root_view_id=self.root_view_id,
            previous_view_id=self.previous_view_id,
            app_id=app_id,
            bot_id=bot_id,
            state={"values": {}},
        )
        for key, default in (("private_metadata", ""), ("callback_id", ""), ("external_id", "")):
            data.setdefault(key, default)
        data.setdefault("blocks", [])
        return data


@dataclass
class File:
    id: str
    name: str
    length: int
    user: str
    title: str = ""
    alt_txt: str | None = None
    data: bytes | None = None
    channels: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def to_api(self, root_url: str) -> dict[str, Any]:
        url = f"{root_url}files/{self.id}/{self.name}"
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": _guess_mimetype(self.name),
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "size": len(self.data) if self.data is not None else self.length,
            "user": self.user,
            "created": self.created,
            "timestamp": self.created,
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "channels": list(self.channels),
            "is_external": False,
            "is_public": bool(self.channels),
        }


def _guess_mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass
class Call:
    """One request the fake received, accepted or not."""

    method: str
    params: dict[str, Any]
    status: int = 200
    ok: bool = False
    error: str | None = None
    at: float = field(default_factory=time.monotonic)
    channel: str | None = None
    warning: str | None = None
    response: dict[str, Any] | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    user: str | None = None
