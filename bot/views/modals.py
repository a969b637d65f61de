"""Modals: escalate, resolve, answer, send back, and escalate a Slack message."""

from __future__ import annotations

import json

from bot.views.cards import OUTCOMES
from bot.views.ids import CallbackId
from bot.views.text import escape, mrkdwn_section, plain
from escalation.people import Directory

MAX_INPUT = 2000


def modal(callback: CallbackId, title: str, submit: str, blocks: list, metadata: dict) -> dict:
    return {
        "type": "modal",
        "callback_id": callback,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def text_input(block_id: str, label: str, *, optional=False, placeholder="", limit=MAX_INPUT):
    element = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": True,
        "max_length": limit,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }


def department_input(org: Directory) -> dict:
    options = [{"text": plain(d.name, 75), "value": key} for key, d in org.departments.items()]
    element = {
        "type": "static_select",
        "action_id": "department",
        "options": options[:100],
        "placeholder": plain("Choose a department", 75),
    }
    return {
        "type": "input",
        "block_id": "department",
        "label": plain("Department", 2000),
        "element": element,
    }


def escalate_modal(case_id: int, department: str, org: Directory) -> dict:
    name = org.department(department).name
    blocks = [
        mrkdwn_section(f"Escalate to *{escape(name)}*. They get a card with the whole context."),
        text_input("question", f"What does triage need from {name}?"),
        text_input("note", "Note for the department", optional=True),
    ]
    metadata = {"case": case_id, "department": department}
    return modal(CallbackId.ESCALATE, "Escalate case", "Escalate", blocks, metadata)


def resolve_modal(case_id: int) -> dict:
    options = [
        {"text": plain(text.capitalize(), 75), "value": key} for key, text in OUTCOMES.items()
    ]
    outcome = {
        "type": "input",
        "block_id": "outcome",
        "label": plain("Outcome", 2000),
        "element": {"type": "radio_buttons", "action_id": "outcome", "options": options},
    }
    link = {
        "type": "input",
        "block_id": "link",
        "label": plain("Link to the reply", 2000),
        "optional": True,
        "element": {"type": "url_text_input", "action_id": "link"},
    }
    return modal(CallbackId.RESOLVE, "Resolve case", "Resolve", [outcome, link], {"case": case_id})


def answer_modal(case_id: int, escalation_id: int, department: str) -> dict:
    blocks = [text_input("answer", f"{department}'s answer for triage", limit=2800)]
    metadata = {"case": case_id, "escalation": escalation_id}
    return modal(CallbackId.ANSWER, "Answer triage", "Send answer", blocks, metadata)


def send_back_modal(case_id: int, escalation_id: int) -> dict:
    blocks = [text_input("reason", "Why is it coming back to triage?")]
    metadata = {"case": case_id, "escalation": escalation_id}
    return modal(CallbackId.SEND_BACK, "Send back to triage", "Send back", blocks, metadata)


def message_escalate_modal(channel: str, ts: str, org: Directory) -> dict:
    blocks = [
        mrkdwn_section("This message becomes a case in triage and goes to the department."),
        department_input(org),
        text_input("question", "What do you need from them?"),
        text_input("note", "Note for the department", optional=True),
    ]
    metadata = {"channel": channel, "ts": ts}
    return modal(CallbackId.MESSAGE_ESCALATE, "Escalate message", "Escalate", blocks, metadata)
