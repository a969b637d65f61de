"""chat.* methods and the response_url endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import mentions
from .blocks import MAX_MESSAGE_BLOCKS_TEXT, blocks_text_length, validate_message
from .model import Message, SlackError
from .request import Args, Handler, Request
from .workspace import Workspace

MISSING_TEXT = "missing_text_or_fallback_or_attachments"


@dataclass
class Content:
    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.text or self.blocks or self.attachments)


def blocks_error(errors: list[str], error: str = "invalid_blocks") -> SlackError:
    messages = [f"[ERROR] {e}" for e in errors]
    return SlackError(error, errors=errors, response_metadata={"messages": messages})


def read_content(args: Args, ws: Workspace, size_limit: bool = True) -> Content:
    """Text, blocks and attachments of a message, validated the way Slack does."""
    blocks = args.decoded("blocks", "invalid_blocks_format")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    attachments = args.decoded("attachments", "invalid_attachments")
    text = args.text("text") or args.text("markdown_text")
    if blocks:
        errors = validate_message(blocks)
        if errors:
            raise blocks_error(errors)
        if size_limit and blocks_text_length(blocks) > MAX_MESSAGE_BLOCKS_TEXT:
            raise SlackError("msg_blocks_too_long")
    if text is not None and len(text) > ws.limits.max_text_chars:
        text = text[: ws.limits.max_text_chars]  # Slack truncates over-long text, it doesn't refuse
    content = Content(text, blocks, attachments)
    if blocks and not text and not attachments:
        content.warnings.append(MISSING_TEXT)
    return content


def find_mentions(req: Request, content: Content) -> list[tuple[str, str]]:
    args = req.args
    mrkdwn = args.get("mrkdwn") is None or args.flag("mrkdwn")
    expand = args.flag("link_names") or args.text("parse") == "full"
    found = mentions.in_message(content.text, content.blocks, mrkdwn, expand, req.ws.user_names())
    here = req.call.channel or ""
    req.call.mentions = [{"kind": kind, "target": target or here} for kind, target in found]
    return found


def ok(content: Content, **data: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"ok": True, **data}
    if content.warnings:
        response["warning"] = ",".join(content.warnings)
        response["response_metadata"] = {"warnings": list(content.warnings)}
    return response


def read_metadata(args: Args) -> dict[str, Any] | None:
    metadata = args.decoded("metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    valid = isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
    if not valid or not isinstance(metadata.get("event_payload", {}), dict):
        raise SlackError("invalid_metadata_format")
    return metadata


def post_message(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    channel = req.channel()
    ws.require_postable(channel)
    content = read_content(args, ws)
    if content.empty:
        raise SlackError("no_text")
    message = Message("", channel.id, ws.bot_user_id, content.text or "", content.blocks or [])
    message.attachments = content.attachments or []
    message.thread_ts = args.text("thread_ts")
    message.reply_broadcast = bool(message.thread_ts) and args.flag("reply_broadcast")
    message.metadata, message.bot_id = read_metadata(args), ws.bot_id
    ws.post(message)
    ws.record_mentions(message, find_mentions(req, content), "chat.postMessage")
    shown = {**message.to_api(), "team": ws.team_id, "app_id": ws.app_id}
    return ok(content, channel=channel.id, ts=message.ts, message=shown)


def update(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    channel = req.channel()
    if channel.is_archived:
        raise SlackError("is_archived")
    message = ws.require_message(channel.id, args.text("ts"))
    if message.user != ws.bot_user_id:
        raise SlackError("cant_update_message")
    content = read_content(args, ws)
    if content.empty:
        raise SlackError("no_text")
    text = content.text if content.text is not None else message.text
    blocks = content.blocks if content.blocks is not None else message.blocks
    if content.attachments is not None:
        message.attachments = content.attachments
    ws.edit(message, text, blocks)
    find_mentions(req, content)
    return ok(content, channel=channel.id, ts=message.ts, text=text, message=message.to_api())


def post_ephemeral(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    channel = req.channel()
    ws.require_postable(channel)
    user = ws.require_user(args.text("user"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    content = read_content(args, ws)
    if content.empty:
        raise SlackError("no_text")
    find_mentions(req, content)
    record = _ephemeral(channel.id, user.id, content, "chat.postEphemeral")
    record["thread_ts"] = args.text("thread_ts")
    return ok(content, message_ts=ws.add_ephemeral(record)["ts"])


def _ephemeral(channel: str, user: str, content: Content, source: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "user": user,
        "text": content.text or "",
        "blocks": content.blocks or [],
        "thread_ts": None,
        "source": source,
    }


def permalink(req: Request) -> dict[str, Any]:
    channel = req.channel()
    message = req.ws.require_message(channel.id, req.args.text("message_ts"))
    url = f"{req.ws.root_url}archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        url += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": url}


def delete(req: Request) -> dict[str, Any]:
    channel = req.channel()
    message = req.ws.require_message(channel.id, req.args.text("ts"))
    if message.user != req.ws.bot_user_id:
        raise SlackError("cant_delete_message")
    req.ws.delete(message)
    return {"ok": True, "channel": channel.id, "ts": message.ts}


METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": permalink,
    "chat.delete": delete,
}


# --- response_url ---------------------------------------------------------------------------


def respond(req: Request, hook_id: str) -> dict[str, Any]:
    """A POST to a response_url: replace, delete, or post (ephemeral by default) a message."""
    ws, args = req.ws, req.args
    hook = ws.use_hook(hook_id)
    req.call.channel = hook.channel
    if args.flag("delete_original"):
        ws.delete(ws.require_message(hook.channel, hook.message_ts))
        return {"ok": True}
    content = read_content(args, ws, size_limit=False)
    if content.empty:
        raise SlackError("no_text")
    found = find_mentions(req, content)
    if args.flag("replace_original") and hook.message_ts:
        original = ws.require_message(hook.channel, hook.message_ts)
        ws.edit(original, content.text or "", content.blocks or [])
    elif args.text("response_type") == "in_channel":
        message = Message(
            "", hook.channel, ws.bot_user_id, content.text or "", content.blocks or []
        )
        message.thread_ts, message.bot_id = args.text("thread_ts"), ws.bot_id
        ws.record_mentions(ws.post(message), found, "response_url")
    else:
        record = _ephemeral(hook.channel, hook.user, content, "response_url")
        record["thread_ts"] = args.text("thread_ts")
        ws.add_ephemeral(record)
    return {"ok": True}
