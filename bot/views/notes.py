"""One short line of history per change, posted in the case's triage thread.

The person who acted is named (no notification); the person who must know is mentioned, which
is how Slack tells them: the owner when a department acknowledges, answers or sends back, the
previous owner when someone takes over.
"""

from __future__ import annotations

from bot.views.cards import OUTCOMES
from bot.views.text import escape, link, quoted
from escalation.cases import Outcome
from escalation.models import CaseEvent
from escalation.people import Directory, person
from escalation.replies import ReplyAction
from escalation.workflow import Action


def history_note(event: CaseEvent, org: Directory) -> str:
    data = event.data or {}
    who = f"*{escape(org.name(event.actor))}*" if event.actor else "The customer wrote again"
    dept = _department(data.get("department"), org)
    told = f" {person(data['owner'])}" if data.get("owner") else ""
    lines = {
        Action.CLAIM: f"🙋 {who} claimed this.",
        Action.RELEASE: f"{who} released this; it is unclaimed.",
        Action.TAKE_OVER: f"{who} took this over from {_previous(data)}.",
        Action.ESCALATE: f"⬆️ {who} escalated to {dept}:\n{quoted(event.note or '')}",
        Action.ACKNOWLEDGE: f"👀 {who} ({dept}) acknowledged.{told}",
        Action.ANSWER: f"💬 {dept} answered ({who}):\n{quoted(event.note or '', 2800)}\n{told}",
        Action.SEND_BACK: f"↩️ {dept} sent this back ({who}):\n{quoted(event.note or '')}\n{told}",
        Action.REASSIGN: f"➡️ {who} moved this from {dept} to "
        f"{_department(data.get('to'), org)}.{told}",
        Action.RESOLVE: f"✅ {who} resolved this: {_outcome(data)}",
        Action.REOPEN: f"↩️ {who} reopened this.",
        Action.WAIT_CUSTOMER: f"⏸️ {who}: waiting on the customer; clocks stopped (not P1's).",
        Action.CUSTOMER_REPLIED: f"▶️ {who}: off hold, clocks running again.",
        Action.MARK_REPLIED: _replied(who, data),
        ReplyAction.POST_FAILED: f"⚠️ The platform refused {who}'s reply; nothing was posted: "
        f"{escape(data.get('error') or '')}",
        ReplyAction.POST_UNCERTAIN: f"❓ {who}'s reply may or may not be out "
        f"({escape(data.get('error') or '')}); look on the platform, then mark it.",
    }
    return lines.get(event.action, f"{who}: {escape(event.action)}").strip()


def _replied(who: str, data: dict) -> str:
    where = f" · {link(data['link'], 'link')}" if data.get("link") else ""
    verb = "posted the reply" if data.get("posted") else "marked this replied"
    return f"↪️ {who} {verb}{where}"


def _department(key: str | None, org: Directory) -> str:
    return f"*{escape(org.department(key).name)}*" if key in org.departments else "a department"


def _previous(data: dict) -> str:
    return person(data["previous"]) if data.get("previous") else "nobody"


def _outcome(data: dict) -> str:
    text = OUTCOMES.get(Outcome(data["outcome"]), "") if data.get("outcome") else ""
    return f"{text} · {link(data['link'], 'link')}" if data.get("link") else f"{text}."
