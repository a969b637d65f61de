"""The two cards: the case in the triage channel, and an escalation in a department's channel.

Both are redrawn in place from the current state after every change; the buttons offered follow
the status, and every button carries the case id (and escalation id) it acts on.
"""

from __future__ import annotations

from datetime import datetime

from bot.views.ids import ActionId
from bot.views.reminders import deadline_line
from bot.views.text import (
    FALLBACK_PREVIEW,
    Message,
    context,
    escape,
    followers,
    link,
    mrkdwn_section,
    permalink,
    plain,
    quote_blocks,
    quoted,
    shorten,
    slack_date,
    source_name,
)
from escalation.cases import Outcome
from escalation.deadlines import DeadlineKind
from escalation.models import Case, Escalation, EscalationStatus, Mention
from escalation.people import Directory
from escalation.workflow import CaseStatus

OUTCOMES = {
    Outcome.REPLIED_PUBLICLY: "replied publicly",
    Outcome.MOVED_TO_DM: "moved to DM",
    Outcome.NO_REPLY_NEEDED: "no reply needed",
    Outcome.SPAM: "spam",
}


def author_line(mention: Mention) -> str:
    name = escape(mention.author_display_name or mention.author_handle)
    verified = " · ✓ verified" if mention.author_verified else ""
    reach = f"{followers(mention.author_followers)} followers"
    return f"*{name}* @{escape(mention.author_handle)} · {reach}{verified}"


def mention_blocks(mention: Mention, *extra_context: str) -> list[dict]:
    """Who posted what, where and when: the part both cards share."""
    where = source_name(mention.source)
    origin = [f"{where} · posted {slack_date(mention.posted_at)}"]
    if mention.url:
        origin.append(link(mention.url, f"Open on {where}"))
    return [
        mrkdwn_section(author_line(mention)),
        *quote_blocks(mention.text),
        context(" · ".join([*origin, *extra_context])),
    ]


def added_mention(mention: Mention) -> Message:
    """A later mention of the case's conversation, as a reply in the case's thread."""
    where = source_name(mention.source)
    return Message(fallback(f"Another {where} mention from", mention), mention_blocks(mention))


def fallback(prefix: str, mention: Mention) -> str:
    text = shorten(mention.text, FALLBACK_PREVIEW)
    return escape(f"{prefix} @{mention.author_handle}: {text}")


SENTIMENT = {"negative": "😠 negative", "neutral": "😐 neutral", "positive": "🙂 positive"}


def triage_line(mention: Mention, org: Directory) -> str:
    """What triage concluded: priority, sentiment, risks, the suggested department."""
    if mention.priority is None:
        return ""
    parts = [f"*{mention.priority}*", SENTIMENT.get(mention.sentiment or "", "")]
    if mention.risks:
        parts.append("⚠️ " + ", ".join(r.replace("_", " ") for r in mention.risks[:4]))
    if mention.crisis_signal:
        parts.append("🚨 possible crisis")
    if mention.needs_reply is False:
        parts.append("no reply needed")
    suggested = org.departments.get(mention.department or "")
    if suggested:
        confidence = (
            f" ({mention.department_confidence:.0%})" if mention.department_confidence else ""
        )
        parts.append(f"suggested: *{escape(suggested.name)}*{confidence}")
    return " · ".join(p for p in parts if p)


def triage_card(
    case: Case, org: Directory, now: datetime | None = None, roll_up: str | None = None
) -> Message:
    """The case as the triage channel sees it: the post, its status and what can be done.
    `roll_up` is the line of a surge's roll-up card, which counts the surge's mentions."""
    mention = case.mention
    where = source_name(mention.source)
    due = deadline_line(case.deadline(DeadlineKind.FIRST_REPLY), org, now) if now else ""
    if roll_up:
        more = ""
    elif len(case.mentions) > 1:
        more = f"💬 {len(case.mentions)} mentions in this conversation"
    else:
        more = ""
    blocks = [
        *([mrkdwn_section(roll_up)] if roll_up else []),
        *mention_blocks(mention),
        context(triage_line(mention, org), more),
        context(status_line(case, org), due),
    ]
    if actions := triage_actions(case, org):
        blocks.append({"type": "actions", "block_id": "case-actions", "elements": actions})
    return Message(fallback(f"New {where} mention from", mention), [b for b in blocks if b])


def status_line(case: Case, org: Directory) -> str:
    owner = f"owner: {escape(org.name(case.owner_id))}" if case.owner_id else "unclaimed"
    waiting = case.escalation
    dept = f"*{escape(org.department(waiting.department).name)}*" if waiting else ""
    lines = {
        CaseStatus.NEW: "🆕 New · unclaimed",
        CaseStatus.CLAIMED: f"🙋 Claimed by {escape(org.name(case.owner_id))}",
        CaseStatus.ESCALATED: f"⏳ Waiting on {dept} · {owner}",
        CaseStatus.ACKNOWLEDGED: f"👀 {dept} is on it · {owner}",
        CaseStatus.ANSWERED: f"💬 The department answered (see thread) · {owner}",
        CaseStatus.REPLIED: f"↪️ Replied · {owner}",
        CaseStatus.WAITING_CUSTOMER: f"⏸️ Waiting on the customer · {owner}",
        CaseStatus.SNOOZED: f"💤 Snoozed · {owner}",
        CaseStatus.RESOLVED: resolved_line(case),
    }
    return lines[case.status]


def resolved_line(case: Case) -> str:
    outcome = OUTCOMES.get(Outcome(case.resolution), "") if case.resolution else ""
    line = f"✅ Resolved: {outcome}" if outcome else "✅ Resolved"
    return f"{line} · {link(case.resolution_link, 'link')}" if case.resolution_link else line


def triage_actions(case: Case, org: Directory) -> list[dict]:
    if case.status == CaseStatus.RESOLVED:
        return [button("Reopen", ActionId.REOPEN, str(case.id))]
    if case.owner_id:
        owner = escape(org.name(case.owner_id))
        confirm = confirmation("Take over this case?", f"{owner} owns it; they will be told.")
        ownership = [
            button("Release", ActionId.RELEASE, str(case.id)),
            button("Take over", ActionId.TAKE_OVER, str(case.id), confirm=confirm),
        ]
    else:
        ownership = [button("Claim", ActionId.CLAIM, str(case.id), style="primary")]
    escalate = [] if case.escalation else escalate_buttons(case, org)
    return [
        *ownership,
        *escalate,
        *waiting_button(case),
        button("Suggest reply", ActionId.SUGGEST_REPLY, str(case.id)),
        button("Resolve…", ActionId.RESOLVE, str(case.id)),
    ]


def waiting_button(case: Case) -> list[dict]:
    """Put the case on hold for the customer (its clocks stop), or take it off hold."""
    if case.status == CaseStatus.WAITING_CUSTOMER:
        return [button("Customer replied", ActionId.CUSTOMER_REPLIED, str(case.id))]
    if case.status in (CaseStatus.CLAIMED, CaseStatus.ANSWERED, CaseStatus.REPLIED):
        return [button("Waiting on customer", ActionId.WAIT_CUSTOMER, str(case.id))]
    return []


def escalate_buttons(case: Case, org: Directory) -> list[dict]:
    """The suggested department one click away, and the list of all of them."""
    elements = []
    suggested = org.departments.get(case.mention.department or "")
    if suggested:
        text = f"Escalate to {suggested.name}"
        elements.append(button(text, ActionId.ESCALATE_SUGGESTED, f"{case.id}|{suggested.key}"))
    return [*elements, department_select(ActionId.ESCALATE, str(case.id), org)]


def department_card(
    escalation: Escalation, org: Directory, team_url: str, now: datetime | None = None
) -> Message:
    """An escalation as the department sees it: the whole context, what triage needs, a way back."""
    case, dept = escalation.case, org.department(escalation.department)
    mention = case.mention
    asked_by = escape(org.name(escalation.requested_by))
    blocks = [
        {"type": "header", "text": plain(f"Escalation to {dept.name}", 150)},
        mrkdwn_section(f"*What triage needs* (from {asked_by}):\n{quoted(escalation.question)}"),
    ]
    if escalation.note:
        blocks.append(mrkdwn_section(f"*Note:*\n{quoted(escalation.note)}"))
    thread = permalink(team_url, case.triage_channel, case.triage_ts)
    back = link(thread, "Triage thread") if thread else ""
    deadline = case.deadline(DeadlineKind.ACKNOWLEDGE, escalation.id)
    due = deadline_line(deadline, org, now) if now and escalation.is_open else ""
    blocks += [
        *mention_blocks(mention, back),
        context(f"*{case.priority}*", triage_line(mention, org)),
        context(escalation_line(escalation, org), due),
    ]
    if actions := department_actions(escalation, org):
        blocks.append({"type": "actions", "block_id": "escalation-actions", "elements": actions})
    text = fallback(f"Escalation to {dept.name}: mention from", mention)
    return Message(text, [b for b in blocks if b])


def escalation_line(escalation: Escalation, org: Directory) -> str:
    dept = escape(org.department(escalation.department).name)
    since = slack_date(escalation.requested_at)
    by = escape(org.name(escalation.acknowledged_by or escalation.answered_by))
    why = escape(escalation.closed_note or "")
    lines = {
        EscalationStatus.OPEN: f"⏳ Waiting for someone in {dept} to acknowledge · since {since}",
        EscalationStatus.ACKNOWLEDGED: f"👀 Acknowledged by {by}",
        EscalationStatus.ANSWERED: f"💬 Answered by {escape(org.name(escalation.answered_by))}",
        EscalationStatus.SENT_BACK: f"↩️ Sent back to triage: {why}",
        EscalationStatus.REASSIGNED: f"➡️ {why or 'Moved'}",
        EscalationStatus.WITHDRAWN: "✅ Withdrawn: the case was resolved",
    }
    return lines[escalation.status]


def department_actions(escalation: Escalation, org: Directory) -> list[dict]:
    if not escalation.is_open:
        return []
    ref = f"{escalation.case_id}:{escalation.id}"
    acknowledge = [button("Acknowledge", ActionId.ACKNOWLEDGE, ref, style="primary")]
    return [
        *(acknowledge if escalation.status == EscalationStatus.OPEN else []),
        button("Answer…", ActionId.ANSWER, ref),
        button("Send back…", ActionId.SEND_BACK, ref),
        department_select(ActionId.REASSIGN, ref, org, exclude=escalation.department),
    ]


def button(text: str, action_id: ActionId, value: str, style=None, confirm=None) -> dict:
    element = {"type": "button", "text": plain(text, 75), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirmation(title: str, text: str) -> dict:
    return {
        "title": plain(title, 100),
        "text": {"type": "mrkdwn", "text": shorten(text, 300)},
        "confirm": plain("Yes", 30),
        "deny": plain("Cancel", 30),
    }


def department_select(action_id: ActionId, value: str, org: Directory, exclude=None) -> dict:
    """A select of departments; the option values carry the reference and the department."""
    options = [
        {"text": plain(d.name, 75), "value": f"{value}|{key}"}
        for key, d in org.departments.items()
        if key != exclude
    ]
    verb = "Reassign to…" if action_id == ActionId.REASSIGN else "Escalate to…"
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(verb, 75),
        "options": options[:100],
    }
