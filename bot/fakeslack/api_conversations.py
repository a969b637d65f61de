"""conversations.* methods."""

from __future__ import annotations

import base64
import re
from typing import Any

from .model import Channel, Message, SlackError
from .request import Args, Handler, Request

_NAME_OK = re.compile(r"[a-z0-9_-]+")
MAX_NAME = 80
MAX_TOPIC = 250
MAX_DM_USERS = 8


def page(items: list[Any], args: Args, default_limit: int) -> tuple[list[Any], str]:
    """Slack-style cursor pagination; the cursor is an opaque encoding of an offset."""
    cursor = args.text("cursor")
    try:
        start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
    except ValueError:
        raise SlackError("invalid_cursor") from None
    limit = max(1, min(args.integer("limit", default_limit) or default_limit, 1000))
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor


def check_name(name: str | None) -> str:
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > MAX_NAME:
        raise SlackError("invalid_name_maxlength")
    if not _NAME_OK.fullmatch(name):
        raise SlackError("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise SlackError("invalid_name_punctuation")
    return name


def visible(req: Request, name: str = "channel") -> Channel:
    """A channel the bot may see: private ones it is not in do not exist for it."""
    channel = req.channel(name)
    private = channel.is_private or channel.is_im or channel.is_mpim
    if private and req.ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    return channel


def _shown(req: Request, channel: Channel) -> dict[str, Any]:
    return channel.to_api(req.ws.bot_user_id, req.args.flag("include_num_members"))


def create(req: Request) -> dict[str, Any]:
    ws = req.ws
    name = check_name(req.args.text("name"))
    if ws.channel_by_name(name) is not None:
        raise SlackError("name_taken")
    channel = ws.add_channel(name, req.args.flag("is_private"), ws.bot_user_id)
    ws.join(channel, ws.bot_user_id)
    req.call.channel = channel.id
    return {"ok": True, "channel": _shown(req, channel)}


def invite(req: Request) -> dict[str, Any]:
    ws = req.ws
    channel = visible(req)
    if channel.is_archived:
        raise SlackError("is_archived")
    if channel.is_im or channel.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    ws.require_member(channel)
    users = req.args.csv("users")
    if not users:
        raise SlackError("no_user")
    problems = [{"user": u, "ok": False, "error": e} for u in users if (e := _invite_error(req, u))]
    if problems:
        raise SlackError(problems[0]["error"], errors=problems)
    for user in users:
        ws.join(channel, user)
    return {"ok": True, "channel": _shown(req, channel)}


def _invite_error(req: Request, user_id: str) -> str | None:
    ws = req.ws
    if user_id == ws.bot_user_id:
        return "cant_invite_self"
    user = ws.users.get(user_id)
    if user is None or user.deleted:
        return "user_not_found"
    if user_id in ws.channels[req.call.channel or ""].members:
        return "already_in_channel"
    return None


def open_dm(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    if args.text("channel"):
        channel = visible(req)
        return {"ok": True, "channel": _shown(req, channel), "already_open": True, "no_op": True}
    users = [u for u in args.csv("users") if u != ws.bot_user_id] or args.csv("users")
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > MAX_DM_USERS:
        raise SlackError("too_many_users")
    for user in users:
        ws.require_user(user)
    existed = frozenset([*users, ws.bot_user_id]) in ws.dms
    channel = ws.open_dm(users)
    req.call.channel = channel.id
    shown = _shown(req, channel) if args.flag("return_im") else {"id": channel.id}
    response: dict[str, Any] = {"ok": True, "channel": shown}
    if existed:
        response.update(no_op=True, already_open=True)
    return response


def info(req: Request) -> dict[str, Any]:
    return {"ok": True, "channel": _shown(req, visible(req))}


def join(req: Request) -> dict[str, Any]:
    channel = visible(req)
    if channel.is_private or channel.is_im or channel.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    joined = req.ws.join(channel, req.ws.bot_user_id)
    response: dict[str, Any] = {"ok": True, "channel": _shown(req, channel)}
    if not joined:
        response["warning"] = "already_in_channel"
        response["response_metadata"] = {"warnings": ["already_in_channel"]}
    return response


def set_topic(req: Request) -> dict[str, Any]:
    channel = visible(req)
    if channel.is_archived:
        raise SlackError("is_archived")
    req.ws.require_member(channel)
    topic = req.args.text("topic") or ""
    if len(topic) > MAX_TOPIC:
        raise SlackError("too_long")
    channel.topic = topic
    req.ws.emit("channel_topic", channel=channel.id, topic=topic)
    return {"ok": True, "channel": _shown(req, channel)}


def archive(req: Request) -> dict[str, Any]:
    channel = visible(req)
    if channel.is_im or channel.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("already_archived")
    req.ws.require_member(channel)
    channel.is_archived = True
    req.ws.emit("channel_archive", channel=channel.id)
    return {"ok": True}


def _in_range(message: Message, args: Args) -> bool:
    ts = float(message.ts)
    oldest, latest = float(args.text("oldest") or 0), float(args.text("latest") or "inf")
    if args.flag("inclusive"):
        return oldest <= ts <= latest
    return oldest < ts < latest


def history(req: Request) -> dict[str, Any]:
    channel = visible(req)
    req.ws.require_member(channel)
    with_metadata = req.args.flag("include_all_metadata")
    try:
        found = [m for m in req.ws.top_level(channel.id) if _in_range(m, req.args)]
    except ValueError:
        raise SlackError("invalid_ts_oldest") from None
    found.reverse()  # newest first, like Slack
    shown, cursor = page([m.to_api(with_metadata) for m in found], req.args, 100)
    return {
        "ok": True,
        "messages": shown,
        "has_more": bool(cursor),
        "pin_count": sum(1 for m in found if m.pinned_to),
        "response_metadata": {"next_cursor": cursor},
    }


def replies(req: Request) -> dict[str, Any]:
    channel = visible(req)
    req.ws.require_member(channel)
    root = req.ws.thread_root(channel.id, req.args.text("ts") or "")
    with_metadata = req.args.flag("include_all_metadata")
    thread = [m.to_api(with_metadata) for m in req.ws.thread(channel.id, root.ts)]
    shown, cursor = page(thread, req.args, 1000)
    return {
        "ok": True,
        "messages": shown,
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def members(req: Request) -> dict[str, Any]:
    channel = visible(req)
    shown, cursor = page(list(channel.members), req.args, 100)
    return {"ok": True, "members": shown, "response_metadata": {"next_cursor": cursor}}


def list_channels(req: Request) -> dict[str, Any]:
    kinds = set(req.args.csv("types") or ["public_channel"])
    skip_archived = req.args.flag("exclude_archived")
    chosen = [
        c.to_api(req.ws.bot_user_id, True)
        for c in req.ws.channels.values()
        if _kind(c) in kinds and not (skip_archived and c.is_archived) and _may_see(req, c)
    ]
    shown, cursor = page(chosen, req.args, 100)
    return {"ok": True, "channels": shown, "response_metadata": {"next_cursor": cursor}}


def _kind(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    if channel.is_mpim:
        return "mpim"
    return "private_channel" if channel.is_private else "public_channel"


def _may_see(req: Request, channel: Channel) -> bool:
    return _kind(channel) == "public_channel" or req.ws.bot_user_id in channel.members


METHODS: dict[str, Handler] = {
    "conversations.create": create,
    "conversations.invite": invite,
    "conversations.open": open_dm,
    "conversations.info": info,
    "conversations.join": join,
    "conversations.setTopic": set_topic,
    "conversations.archive": archive,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.members": members,
    "conversations.list": list_channels,
}
