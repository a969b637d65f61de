"""Typed views of Slack's payloads: what a click, a select or a submission refers to."""

from __future__ import annotations

import json
from dataclasses import dataclass


class BadPayload(ValueError):
    """A payload this app did not build (a forged or corrupted value)."""


@dataclass(frozen=True)
class Click:
    user: str
    channel: str | None
    message_ts: str | None
    action_id: str
    value: str
    action_ts: str
    trigger_id: str | None

    @classmethod
    def of(cls, body: dict) -> Click:
        action = body["actions"][0]
        value = action.get("value") or (action.get("selected_option") or {}).get("value", "")
        container = body.get("container") or {}
        return cls(
            user=body["user"]["id"],
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            message_ts=container.get("message_ts"),
            action_id=action["action_id"],
            value=value,
            action_ts=action.get("action_ts", ""),
            trigger_id=body.get("trigger_id"),
        )

    @property
    def key(self) -> str:
        """The same click delivered twice has the same key; a second click does not."""
        return f"click:{self.message_ts}:{self.action_id}:{self.action_ts}"


MAX_ID = 2**31 - 1  # row ids are 32-bit integer columns


def number(text: str) -> int | None:
    """'12' -> 12; None unless ASCII digits that can be a row's id (str.isdigit() also takes
    '²', which int() refuses, and a database refuses a number past its column's range)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        return None
    return int(text)


def case_ref(value: str) -> int:
    """'12' -> case 12."""
    if (case := number(value)) is None:
        raise BadPayload(f"not a case reference: {value[:40]!r}")
    return case


def escalation_ref(value: str) -> tuple[int, int]:
    """'12:5' -> (case 12, escalation 5)."""
    case, _, escalation = value.partition(":")
    case_id, escalation_id = number(case), number(escalation)
    if case_id is None or escalation_id is None:
        raise BadPayload(f"not an escalation reference: {value[:40]!r}")
    return case_id, escalation_id


def choice(value: str) -> tuple[str, str]:
    """A department select's option value: 'reference|department'."""
    reference, _, department = value.rpartition("|")
    if not reference or not department:
        raise BadPayload(f"not a department choice: {value[:40]!r}")
    return reference, department


def metadata(view: dict) -> dict:
    try:
        found = json.loads(view.get("private_metadata") or "{}")
    except ValueError as exc:
        raise BadPayload("private_metadata is not ours") from exc
    if not isinstance(found, dict):  # the bot only writes objects there
        raise BadPayload("private_metadata is not ours")
    return found


def field(view: dict, block_id: str) -> str | None:
    """The value a person entered in an input block, whatever its element type."""
    state = view.get("state", {}).get("values", {}).get(block_id, {})
    element = next(iter(state.values()), {})
    selected = element.get("selected_option") or {}
    value = element.get("value") or selected.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None
