"""The message shortcut "Escalate to a department": any Slack message becomes a case."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_bolt import App

from bot.views.ids import CallbackId
from bot.views.modals import message_escalate_modal
from escalation import cases
from escalation.errors import NotAllowed
from escalation.mentions import NewMention, record_mention
from escalation.permissions import refusal
from escalation.workflow import Action
from handlers.actions import apply_submission
from handlers.payloads import field, metadata

METADATA_LIMIT = 3000


def register(app: App) -> None:
    app.shortcut(CallbackId.MESSAGE_SHORTCUT)(open_message_escalate)
    app.view(CallbackId.MESSAGE_ESCALATE)(submit_message_escalate)


def open_message_escalate(ack, body, client, services):
    ack()
    user = body["user"]["id"]
    if reason := refusal(
        Action.ESCALATE, services.actor(user), owner=None, department=None, directory=services.org
    ):
        raise NotAllowed(reason)
    message, channel = body["message"], body["channel"]["id"]
    author = message.get("user") or message.get("bot_id") or "unknown"
    origin = {
        "channel": channel,
        "ts": message["ts"],
        "author": _name(client, author),
        "link": client.chat_getPermalink(channel=channel, message_ts=message["ts"])["permalink"],
    }
    view = message_escalate_modal(channel, message["ts"], services.org)
    view["private_metadata"] = _fit(origin, message.get("text") or "")
    client.views_open(trigger_id=body["trigger_id"], view=view)


def _name(client, user_id: str) -> str:
    if not user_id.startswith(("U", "W")):
        return user_id
    return client.users_info(user=user_id)["user"].get("name") or user_id


def _fit(origin: dict, text: str) -> str:
    """The message travels in the modal's metadata, cut to fit its 3,000 characters."""
    while True:
        encoded = json.dumps(origin | {"text": text})
        if len(encoded) <= METADATA_LIMIT:
            return encoded
        text = text[: max(0, len(text) - (len(encoded) - METADATA_LIMIT) - 1)]


def submit_message_escalate(ack, body, view, services):
    meta, department, question = metadata(view), field(view, "department"), field(view, "question")
    if not meta.get("text", "").strip():
        ack(response_action="errors", errors={"question": "That message has no text to escalate."})
        return
    if not question or department not in services.org.departments:
        ack(
            response_action="errors",
            errors={"question": "Choose a department and say what you need."},
        )
        return

    def change(db):
        now = services.now()
        mention_id, _ = record_mention(
            db=db,
            mention=_as_mention(meta),
            triage_channel=services.org.triage_channel,
            now=now,
            policies=services.org.policies,
        )
        case_id = cases.case_of(db, mention_id)
        cases.escalate(
            db=db,
            case_id=case_id,
            department=department,
            question=question,
            note=field(view, "note"),
            actor=services.actor(body["user"]["id"]),
            org=services.org,
            now=now,
        )

    apply_submission(ack, view, services, change, "question")


def _as_mention(meta: dict) -> NewMention:
    posted = datetime.fromtimestamp(float(meta["ts"]), UTC)
    record = {
        "source": "slack",
        "external_id": f"{meta['channel']}:{meta['ts']}",
        "url": meta.get("link"),
        "author": {"handle": str(meta.get("author") or "unknown")},
        "text": meta["text"],
        "created_at": posted.isoformat(),
    }
    return NewMention.model_validate_json(json.dumps(record))
