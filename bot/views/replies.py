"""Reply drafts and approved replies, in the case's thread, and their two modals.

A draft's text is the customer-facing reply, shown quoted and escaped exactly as it would be
posted. Every draft says where it came from (the AI's model and prompt version, or a template);
a draft that breaks a rule shows which, and cannot be used as it is.
"""

from __future__ import annotations

from bot.views.cards import button, confirmation
from bot.views.ids import ActionId, CallbackId
from bot.views.modals import modal
from bot.views.text import (
    Message,
    context,
    escape,
    link,
    mrkdwn_section,
    plain,
    quoted,
    shorten,
    source_name,
)
from escalation.drafts import PLATFORM_LIMITS
from escalation.models import Case, Reply, ReplyStatus, Suggestion
from escalation.people import Directory

R = ReplyStatus
MAX_REPLY_INPUT = 1000  # the checks then hold it to the platform's own limit


def draft_label(suggestion: Suggestion, draft: dict) -> str:
    """Where a draft came from: '🤖 AI draft (gpt-4.1-mini) · prompt brightwave-3f2a…' or
    '📄 Template draft · prompt …' (templates are offered beside failing AI drafts too)."""
    if draft.get("origin", suggestion.origin) == "llm":
        made = f"🤖 AI draft ({escape(suggestion.model or 'LLM')})"
    else:
        made = "📄 Template draft"
    return f"{made} · prompt {escape(suggestion.prompt_version)}"


def drafts_message(suggestion: Suggestion, org: Directory) -> Message:
    """The drafts offered, each with Use (when it passes every check) and Edit, and Regenerate."""
    case_id = suggestion.case_id
    asked = escape(org.name(suggestion.requested_by))
    blocks = [mrkdwn_section(f"✍️ *Reply drafts* for {asked}: use one, or edit it first.")]
    if suggestion.note:
        blocks.append(context(f"ℹ️ {escape(suggestion.note)}"))
    for index, draft in enumerate(suggestion.drafts):
        blocks += _draft_blocks(suggestion, index, draft, f"{case_id}:{suggestion.id}:{index}")
    regenerate = button("Regenerate", ActionId.REPLY_REGENERATE, str(case_id))
    blocks.append({"type": "actions", "block_id": "drafts-actions", "elements": [regenerate]})
    passing = sum(not d["problems"] for d in suggestion.drafts)
    text = f"{len(suggestion.drafts)} reply drafts ({passing} pass every check)"
    return Message(text, [b for b in blocks if b])


def _draft_blocks(suggestion: Suggestion, index: int, draft: dict, ref: str) -> list:
    label = draft_label(suggestion, draft)
    about = [escape(part) for part in (draft.get("tone"), draft.get("reason")) if part]
    flags = [f"🚩 {escape(flag)}" for flag in draft.get("flags") or []]
    blocks = [
        mrkdwn_section(f"*Draft {index + 1}*\n{quoted(draft['text'], 1200)}"),
        context(label, *about, *flags),
    ]
    if draft["problems"]:
        problems = "\n".join(f"⛔ {escape(p['message'])}" for p in draft["problems"][:8])
        blocks.append(mrkdwn_section(shorten(problems, 2900)))
    use = [button("Use", ActionId.REPLY_USE, ref, style="primary")] if not draft["problems"] else []
    edit = button("Edit…", ActionId.REPLY_EDIT_DRAFT, ref)
    blocks.append({"type": "actions", "block_id": f"draft-{index}", "elements": [*use, edit]})
    return blocks


def reply_card(reply: Reply, org: Directory, postable: frozenset[str]) -> Message:
    """The approved reply: who approved it, where it stands, what can be done next."""
    case = reply.case
    where = source_name(case.mention.source)
    blocks = [
        mrkdwn_section(f"*Reply to @{escape(case.mention.author_handle)} on {where}*"),
        mrkdwn_section(quoted(reply.text, 1200)),
        context(_provenance(reply)),
        context(reply_status_line(reply, org)),
    ]
    if actions := _reply_actions(reply, case, where, postable):
        blocks.append({"type": "actions", "block_id": "reply-actions", "elements": actions})
    text = f"Reply {reply.status.replace('_', ' ')}: {shorten(reply.text, 120)}"
    return Message(escape(text), [b for b in blocks if b])


def _provenance(reply: Reply) -> str:
    suggestion = reply.suggestion
    if suggestion is None:
        return "✍️ Written by hand"
    label = draft_label(suggestion, suggestion.drafts[reply.draft_index])
    return f"{label} · edited by a person" if reply.edited else label


def reply_status_line(reply: Reply, org: Directory) -> str:
    def name(slack_id: str | None) -> str:
        return escape(org.name(slack_id))

    approved = f"approved by {name(reply.approved_by)}"
    if reply.second_approver:
        approved += f" and {name(reply.second_approver)} ({escape(reply.second_needed or '')})"
    where = f" · {link(reply.link, 'link')}" if reply.link else ""
    error = escape(reply.error or "")
    lines = {
        R.AWAITING_SECOND: f"⏳ {_upper_first(approved)}; a {escape(reply.second_needed or '')} "
        "reply needs a second approver (not the author).",
        R.APPROVED: f"✅ {_upper_first(approved)}.",
        R.POSTING: f"📤 Being posted by {name(reply.posted_by)}; {approved}.",
        R.POSTED: f"↪️ Posted by {name(reply.posted_by)}{where}; {approved}.",
        R.FAILED: f"⚠️ Not posted: {error}. Nothing went out; post again or reply by hand.",
        R.UNCERTAIN: f"❓ It may or may not be out ({error}). Look on the platform, then mark "
        "it replied (with the link) or edit a new reply.",
        R.MARKED: f"↪️ Marked replied by {name(reply.posted_by)}{where}; {approved}.",
        R.SUPERSEDED: "~Replaced by a newer reply~",
    }
    return lines[reply.status]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reply_actions(reply: Reply, case: Case, where: str, postable: frozenset[str]) -> list:
    ref = f"{case.id}:{reply.id}"
    edit = button("Edit…", ActionId.REPLY_EDIT, ref)
    mark = button("Mark replied…", ActionId.REPLY_MARK, ref)
    if reply.status == R.AWAITING_SECOND:
        return [button("Approve as second approver", ActionId.REPLY_SECOND, ref, "primary"), edit]
    if reply.status in (R.APPROVED, R.FAILED):
        if case.mention.source not in postable:
            return [mark, edit]
        verb = "Post reply" if reply.status == R.APPROVED else "Post again"
        sure = confirmation(f"{verb} on {where}?", "It goes out publicly, at once, as it reads.")
        return [button(f"{verb} on {where}", ActionId.REPLY_POST, ref, "primary", sure), mark, edit]
    if reply.status in (R.POSTING, R.UNCERTAIN):
        return [mark, edit] if reply.status == R.UNCERTAIN else [mark]
    return []


def reply_edit_modal(text: str, platform: str, initials: str, metadata: dict) -> dict:
    """Edit a draft (or an approved reply) before approving it."""
    limit = PLATFORM_LIMITS.get(platform, min(PLATFORM_LIMITS.values()))
    element = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": MAX_REPLY_INPUT,
        "initial_value": text[:MAX_REPLY_INPUT],
    }
    hint = f"At most {limit} characters on {source_name(platform)}; sign it ^{initials}."
    blocks = [
        {
            "type": "input",
            "block_id": "text",
            "label": plain("Reply", 2000),
            "hint": plain(hint, 2000),
            "element": element,
        },
        context("Checked again when you approve it; you are recorded as its approver."),
    ]
    return modal(CallbackId.REPLY_EDIT, "Edit reply", "Approve", blocks, metadata)


def mark_replied_modal(case_id: int, reply_id: int | None) -> dict:
    """A person replied on the platform themselves: the link to that reply."""
    block = {
        "type": "input",
        "block_id": "link",
        "label": plain("Link to the public reply", 2000),
        "element": {"type": "url_text_input", "action_id": "link"},
    }
    metadata = {"case": case_id, "reply": reply_id}
    return modal(CallbackId.REPLY_MARK, "Mark replied", "Mark replied", [block], metadata)
