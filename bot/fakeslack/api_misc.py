"""auth, api.test, users, user groups, reactions, pins and the two-step external file upload."""

from __future__ import annotations

from typing import Any

from .api_chat import Content, find_mentions
from .api_conversations import page
from .model import File, Message, SlackError
from .request import Handler, Request


def auth_test(req: Request) -> dict[str, Any]:
    ws = req.ws
    return {
        "ok": True,
        "url": ws.root_url,
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


def api_test(req: Request) -> dict[str, Any]:
    echoed = {k: v for k, v in req.args.params.items() if k != "token"}
    error = req.args.text("error")
    if error:
        raise SlackError(error, args=echoed)
    return {"ok": True, "args": echoed}


def users_info(req: Request) -> dict[str, Any]:
    user = req.ws.require_user(req.args.text("user"))
    return {"ok": True, "user": user.to_api(req.ws.team_id)}


def users_list(req: Request) -> dict[str, Any]:
    everyone = [u.to_api(req.ws.team_id) for u in req.ws.users.values()]
    shown, cursor = page(everyone, req.args, 1000)
    return {"ok": True, "members": shown, "response_metadata": {"next_cursor": cursor}}


def usergroup_members(req: Request) -> dict[str, Any]:
    """usergroups.users.list: the members of one user group."""
    members = req.ws.usergroups.get(req.args.need("usergroup"))
    if members is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(members)}


def _target(req: Request) -> Message:
    channel = req.channel()
    return req.ws.require_message(channel.id, req.args.text("timestamp"))


def reactions_add(req: Request) -> dict[str, Any]:
    name = (req.args.text("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    message = _target(req)
    reaction = next((r for r in message.reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        message.reactions.append(reaction)
    if req.ws.bot_user_id in reaction["users"]:
        raise SlackError("already_reacted")
    reaction["users"].append(req.ws.bot_user_id)
    reaction["count"] += 1
    req.ws.emit("reaction_added", channel=message.channel, ts=message.ts, name=name)
    return {"ok": True}


def pins_add(req: Request) -> dict[str, Any]:
    message = _target(req)
    req.ws.require_member(req.ws.channels[message.channel])
    if message.channel in message.pinned_to:
        raise SlackError("already_pinned")
    message.pinned_to.append(message.channel)
    req.ws.emit("pin_added", channel=message.channel, ts=message.ts)
    return {"ok": True}


# --- files ----------------------------------------------------------------------------------


def get_upload_url(req: Request) -> dict[str, Any]:
    ws = req.ws
    name = req.args.need("filename")
    length = req.args.integer("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments")
    upload = File(ws.next_id("F"), name, length, ws.bot_user_id, alt_txt=req.args.text("alt_txt"))
    ws.files[upload.id] = upload
    return {"ok": True, "upload_url": f"{ws.root_url}upload/{upload.id}", "file_id": upload.id}


def store_upload(req: Request, file_id: str, data: bytes) -> None:
    """The upload URL handed out above: it keeps the bytes until the upload is completed."""
    upload = req.ws.files.get(file_id)
    if upload is None:
        raise SlackError("file_not_found")
    upload.data = data
    req.ws.emit("file_uploaded", file=file_id, name=upload.name, size=len(data))


def complete_upload(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    wanted = args.decoded("files")
    if not isinstance(wanted, list) or not wanted:
        raise SlackError("invalid_arguments")
    uploads = [_uploaded(req, item) for item in wanted]
    targets = [args.text("channel_id")] if args.text("channel_id") else args.csv("channels")
    channels = [ws.require_channel(t) for t in targets]
    for channel in channels:
        ws.require_postable(channel)
    for channel in channels:
        req.call.channel = channel.id
        _share(req, channel.id, uploads)
    return {"ok": True, "files": [f.to_api(ws.root_url) for f in uploads]}


def _uploaded(req: Request, item: Any) -> File:
    upload = req.ws.files.get(item.get("id", "")) if isinstance(item, dict) else None
    if upload is None or upload.data is None:
        raise SlackError("file_not_found")
    if item.get("title"):
        upload.title = str(item["title"])
    return upload


def _share(req: Request, channel_id: str, uploads: list[File]) -> None:
    """A shared file shows up as a message carrying the files and the initial comment."""
    ws = req.ws
    comment = Content(req.args.text("initial_comment"), None, None)
    for upload in uploads:
        upload.channels.append(channel_id)
    message = Message("", channel_id, ws.bot_user_id, comment.text or "", bot_id=ws.bot_id)
    message.files = [f.to_api(ws.root_url) for f in uploads]
    message.thread_ts = req.args.text("thread_ts")
    ws.post(message)
    ws.record_mentions(message, find_mentions(req, comment), "files.completeUploadExternal")
    ws.emit("file_shared", channel=channel_id, ts=message.ts, files=[f.id for f in uploads])


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "api.test": api_test,
    "users.info": users_info,
    "users.list": users_list,
    "usergroups.users.list": usergroup_members,
    "reactions.add": reactions_add,
    "pins.add": pins_add,
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
