"""Interactivity payload pieces shaped as Slack sends them: actions, element states, envelopes.

Pure functions over Block Kit JSON; SlackDriver (driver.py) feeds them the fake workspace's records.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import string
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
MISSING: Any = object()  # "the test gave no value": the element keeps its initial value

# The state key Slack uses for each element type, in both `actions` and `state.values`.
VALUE_KEYS: dict[str, str] = {
    **dict.fromkeys(
        ("plain_text_input", "email_text_input", "url_text_input", "number_input"), "value"
    ),
    **dict.fromkeys(("static_select", "external_select", "radio_buttons"), "selected_option"),
    "overflow": "selected_option",
    **dict.fromkeys(
        ("multi_static_select", "multi_external_select", "checkboxes"), "selected_options"
    ),
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "rich_text_input": "rich_text_value",
    "file_input": "files",
}
LIST_KEYS = frozenset(
    ("selected_options", "selected_users", "selected_conversations", "selected_channels", "files")
)
# Where an element keeps its starting value: selected_user -> initial_user, value -> initial_value.
INITIAL_KEYS = {k: k.replace("selected_", "initial_") for k in VALUE_KEYS.values() if k != "files"}
INITIAL_KEYS |= {"value": "initial_value", "rich_text_value": "initial_value"}
BUTTONS = ("button", "workflow_button")
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Outgoing:
    """A request body ready to sign, with the payload (or form) it encodes."""

    body: bytes
    content_type: str
    sent: JSON


def form_payload(payload: JSON) -> Outgoing:
    """Interactivity: one form field, payload=<json>."""
    return Outgoing(
        urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM, payload
    )


def form_fields(fields: dict[str, str]) -> Outgoing:
    """Slash commands: plain form fields."""
    return Outgoing(urllib.parse.urlencode(fields).encode(), FORM, dict(fields))


@dataclass(frozen=True)
class Resolver:
    """Turns what a test typed into what Slack would send: checked user ids, channel ids."""

    user: Callable[[str], str]
    channel: Callable[[str], str]


@dataclass(frozen=True)
class Origin:
    """Who acts, in which workspace, through which app: the head of every interactive payload."""

    user: JSON
    team: JSON
    api_app_id: str
    token: str

    def base(self, kind: str) -> JSON:
        return {
            "type": kind,
            "user": dict(self.user),
            "api_app_id": self.api_app_id,
            "token": self.token,
            "team": dict(self.team),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def command_form(self, channel: JSON, command: str, text: str, urls: JSON) -> dict[str, str]:
        """A slash command's form fields; urls holds its response_url and trigger_id."""
        return {
            "token": self.token,
            "team_id": self.team["id"],
            "team_domain": self.team["domain"],
            "channel_id": channel["id"],
            "channel_name": channel["name"],
            "user_id": self.user["id"],
            "user_name": self.user["name"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": urls["response_url"],
            "trigger_id": urls["trigger_id"],
        }

    def event_envelope(self, event: JSON, event_id: str | None, bot_user_id: str) -> JSON:
        """An Events API event_callback; the event's own fields are the caller's."""
        team_id = self.team["id"]
        authorization = {"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id}
        authorization |= {"is_bot": True, "is_enterprise_install": False}
        return {
            "token": self.token,
            "team_id": team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + _random_id(10),
            "event_time": int(time.time()),
            "authorizations": [authorization],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }


def _random_id(length: int) -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def payload_view(view: JSON, team_id: str) -> JSON:
    """A view (as views.open answers it) as interactivity payloads carry it."""
    shown = view | {"blocks": with_block_ids(view.get("blocks") or [])}
    shown.setdefault("notify_on_close", False)
    shown.setdefault("clear_on_close", False)
    return shown | {"app_installed_team_id": team_id}


# --- blocks and elements --------------------------------------------------------------------


def placeholder_id(*parts: Any) -> str:
    """Slack gives a block without block_id a random one; a stable stand-in keeps retries equal."""
    digest = hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:5]


def with_block_ids(blocks: list[JSON]) -> list[JSON]:
    """A copy of the blocks as Slack stores them: every block has a block_id."""
    shown = copy.deepcopy(blocks)
    for index, block in enumerate(shown):
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = placeholder_id(index, block)
    return shown


def block_elements(block: JSON) -> list[JSON]:
    if block.get("type") == "actions":
        return [e for e in block.get("elements") or [] if isinstance(e, dict)]
    found = block.get("accessory") if block.get("type") == "section" else block.get("element")
    return [found] if isinstance(found, dict) and block.get("type") in ("section", "input") else []


def find_element(blocks: list[JSON], action_id: str, where: str) -> tuple[JSON, JSON]:
    """The block and element carrying action_id; KeyError when the person could not click it."""
    seen: list[str] = []
    for block in blocks:
        for element in block_elements(block):
            if element.get("action_id") == action_id:
                return block, element
            seen.append(str(element.get("action_id")))
    raise KeyError(f"{where} has no element with action_id {action_id!r} (it has {seen})")


def options_of(element: JSON) -> list[JSON]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def find_option(element: JSON, value: str) -> JSON:
    options = options_of(element)
    for option in options:
        if option.get("value") == value:
            return copy.deepcopy(option)
    offered = [o.get("value") for o in options]
    raise KeyError(
        f"{element.get('type')} {element.get('action_id')!r} has no option {value!r} "
        f"(it offers {offered})"
    )


# --- values -----------------------------------------------------------------------------------


def _free_option(value: Any) -> JSON:
    """External selects load options from the app; the test names one by value (or gives it)."""
    if isinstance(value, dict):
        return copy.deepcopy(value)
    return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}


def _rich_text(value: Any) -> JSON:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": str(value)}]}
    return {"type": "rich_text", "elements": [section]}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _convert(element: JSON, key: str, chosen: Any, resolve: Resolver) -> Any:
    """One chosen value (or a list of them) in the form Slack sends for this element."""
    external = element.get("type", "").endswith("external_select")
    if key == "selected_option":
        return _free_option(chosen) if external else find_option(element, str(chosen))
    if key == "selected_options":
        pick = _free_option if external else lambda v: find_option(element, str(v))
        return [pick(v) for v in _as_list(chosen)]
    if key in ("selected_user", "selected_users"):
        return _one_or_many(key, chosen, resolve.user)
    if key.startswith(("selected_conversation", "selected_channel")):
        return _one_or_many(key, chosen, resolve.channel)
    if key == "selected_date_time":
        return int(chosen)
    if key == "rich_text_value":
        return _rich_text(chosen)
    return list(chosen) if key == "files" else str(chosen)


def _one_or_many(key: str, chosen: Any, resolve: Callable[[str], str]) -> Any:
    if key in LIST_KEYS:
        return [resolve(str(v)) for v in _as_list(chosen)]
    return resolve(str(chosen))


def value_key(element: JSON) -> str:
    key = VALUE_KEYS.get(str(element.get("type")))
    if key is None:
        raise ValueError(f"{element.get('type')} {element.get('action_id')!r} holds no value")
    return key


def element_state(element: JSON, chosen: Any, resolve: Resolver) -> JSON:
    """The state Slack reports for an element: chosen value, else initial value, else empty."""
    key = value_key(element)
    if chosen is MISSING:
        value = copy.deepcopy(element.get(INITIAL_KEYS.get(key, "")))
    elif chosen is None or chosen == "" or chosen == []:
        value = None
    else:
        value = _convert(element, key, chosen, resolve)
    if value is None and key in LIST_KEYS:
        value = []
    return {"type": element["type"], key: value}


def action(block: JSON, element: JSON, chosen: Any, action_ts: str, resolve: Resolver) -> JSON:
    """The single entry of `actions` for a click on (or a choice in) element."""
    kind = element["type"]
    data: JSON = {
        "type": kind,
        "action_id": element.get("action_id"),
        "block_id": block["block_id"],
    }
    if kind in BUTTONS:
        if chosen is not None:
            raise ValueError(f"button {element.get('action_id')!r} takes no option")
        data.update(
            {
                k: copy.deepcopy(element[k])
                for k in ("text", "value", "style", "url")
                if k in element
            }
        )
    else:
        if chosen is None:
            raise ValueError(f"{kind} {element.get('action_id')!r} needs a choice: pass option=")
        data.update(element_state(element, chosen, resolve))
        if "placeholder" in element:
            data["placeholder"] = copy.deepcopy(element["placeholder"])
    data["action_ts"] = action_ts
    return data


# --- state.values -----------------------------------------------------------------------------


def _take(values: JSON, block_id: str, action_id: str) -> Any:
    for key in (f"{block_id}.{action_id}", action_id):
        if key in values:
            return values.pop(key)
    return MISSING


def _check_filled(block: JSON, action_id: str, entry: JSON) -> None:
    """What Slack's client checks before it lets a person submit."""
    name = f"{block['block_id']}.{action_id}"
    value = next(v for k, v in entry.items() if k != "type")
    if value in (None, "", []) and not block.get("optional"):
        raise ValueError(f"input {name} is required: Slack's client would not submit the view")
    element = block["element"]
    if isinstance(value, str) and len(value) < element.get("min_length", 0):
        raise ValueError(f"input {name} needs at least {element['min_length']} characters")
    if isinstance(value, str) and len(value) > element.get("max_length", 3000):
        raise ValueError(f"input {name} takes at most {element.get('max_length', 3000)} characters")


def input_values(blocks: list[JSON], values: JSON, resolve: Resolver, strict: bool) -> JSON:
    """state.values of a view: every input block, block_id -> action_id -> element state.

    values are keyed by action_id or "block_id.action_id"; a key that names no input is an error.
    strict applies the client's own checks (required inputs, lengths), as on submission.
    """
    wanted, state = dict(values), {}
    for block in blocks:
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        block_id, element = block["block_id"], block["element"]
        action_id = element.get("action_id") or placeholder_id(block_id)
        entry = element_state(element, _take(wanted, block_id, action_id), resolve)
        if strict:
            _check_filled(block, action_id, entry)
        state.setdefault(block_id, {})[action_id] = entry
    if wanted:
        raise KeyError(f"the view has no input {sorted(wanted)} (inputs: {_input_names(blocks)})")
    return state


def _input_names(blocks: list[JSON]) -> list[str]:
    inputs = [b for b in blocks if b.get("type") == "input" and isinstance(b.get("element"), dict)]
    return [f"{b['block_id']}.{b['element'].get('action_id')}" for b in inputs]


def add_choice_state(state: JSON, block: JSON, action: JSON) -> None:
    """A choice made outside input blocks also shows in state.values, as Slack reports it."""
    if action["type"] in BUTTONS or action["type"] == "overflow":
        return
    entry = {k: v for k, v in action.items() if k in ("type", value_key(action))}
    state.setdefault(block["block_id"], {})[action["action_id"]] = entry


def response_urls(blocks: list[JSON], state: JSON, mint: Callable[[str], str]) -> list[JSON]:
    """Conversation inputs with response_url_enabled give the app a response_url on submission."""
    urls = []
    for block in blocks:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict) or not element.get("response_url_enabled"):
            continue
        action_id = element.get("action_id") or placeholder_id(block["block_id"])
        entry = state.get(block["block_id"], {}).get(action_id, {})
        channel = entry.get("selected_conversation") or entry.get("selected_channel")
        if channel:
            urls.append(
                {"block_id": block["block_id"], "action_id": action_id, "channel_id": channel}
                | {"response_url": mint(channel)}
            )
    return urls
