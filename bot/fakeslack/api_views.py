"""views.* methods: modals (open, push, update) and the App Home tab (publish)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from .api_chat import blocks_error
from .blocks import validate_view
from .model import SlackError, View
from .request import Handler, Request

MAX_MODAL_STACK = 3


def _new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def _read_view(req: Request, kind: str) -> dict[str, Any]:
    """The `view` argument, validated; Slack reports a bad view as invalid_arguments."""
    view = req.args.decoded("view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments")
    errors = validate_view(view)
    if errors:
        raise blocks_error(errors, "invalid_arguments")
    if view.get("type") != kind:
        raise blocks_error(
            [f"must be `{kind}` here [json-pointer:/view/type]"], "invalid_arguments"
        )
    return view


def _shown(req: Request, view: View) -> dict[str, Any]:
    ws = req.ws
    return {"ok": True, "view": view.to_api(ws.team_id, ws.bot_id, ws.app_id)}


def _by_external_id(req: Request, external_id: str) -> View | None:
    views = req.ws.views.values()
    return next((v for v in views if v.spec.get("external_id") == external_id), None)


def _check_external_id(req: Request, spec: dict[str, Any], current: View | None = None) -> None:
    external_id = spec.get("external_id")
    if external_id and _by_external_id(req, external_id) not in (None, current):
        raise SlackError("duplicate_external_id")


def _new_view(req: Request, user: str, spec: dict[str, Any], root: str | None) -> View:
    _check_external_id(req, spec)
    view_id = req.ws.next_id("V")
    view = View(view_id, user, spec["type"], spec, _new_hash(), root or view_id)
    req.ws.views[view_id] = view
    return view


def open_view(req: Request) -> dict[str, Any]:
    spec = _read_view(req, "modal")
    user = req.ws.exchange_trigger(req.args.text("trigger_id"))
    view = _new_view(req, user, spec, None)
    req.ws.modal_stacks[user] = [view.id]
    req.ws.emit("view_opened", view=view.id, user=user, spec=spec)
    return _shown(req, view)


def push_view(req: Request) -> dict[str, Any]:
    spec = _read_view(req, "modal")
    user = req.ws.exchange_trigger(req.args.text("trigger_id"))
    stack = req.ws.modal_stacks.get(user) or []
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= MAX_MODAL_STACK:
        raise SlackError("push_limit_reached")
    view = _new_view(req, user, spec, stack[0])
    view.previous_view_id = stack[-1]
    stack.append(view.id)
    req.ws.emit("view_pushed", view=view.id, user=user, spec=spec)
    return _shown(req, view)


def update_view(req: Request) -> dict[str, Any]:
    args = req.args
    view_id, external_id = args.text("view_id"), args.text("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments")
    view = req.ws.views.get(view_id or "") if view_id else _by_external_id(req, external_id or "")
    if view is None:
        raise SlackError("not_found")
    spec = _read_view(req, view.type)
    if args.text("hash") and args.text("hash") != view.hash:
        raise SlackError("hash_conflict")
    _check_external_id(req, spec, view)
    view.spec, view.hash = spec, _new_hash()
    req.ws.emit("view_updated", view=view.id, user=view.user, spec=spec)
    return _shown(req, view)


def publish_view(req: Request) -> dict[str, Any]:
    ws, args = req.ws, req.args
    user = ws.require_user(args.text("user_id"))
    spec = _read_view(req, "home")
    home = ws.views.get(ws.homes.get(user.id, ""))
    if home is not None and args.text("hash") and args.text("hash") != home.hash:
        raise SlackError("hash_conflict")
    if home is None:
        home = _new_view(req, user.id, spec, None)
        ws.homes[user.id] = home.id
    home.spec, home.hash = spec, _new_hash()
    ws.emit("view_published", view=home.id, user=user.id, spec=spec)
    return _shown(req, home)


METHODS: dict[str, Handler] = {
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "views.publish": publish_view,
}
