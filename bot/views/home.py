"""The App Home tab: a person's queue (escalation/queues.py), within Block Kit's limits for a
Home tab (100 blocks, 3,000 characters a section), however many cases are open."""

from __future__ import annotations

from datetime import datetime

from bot.views.cards import button
from bot.views.ids import ActionId
from bot.views.reminders import deadline_line
from bot.views.text import context, escape, mrkdwn_section, plain, shorten, source_name
from escalation.deadlines import DeadlineKind
from escalation.models import Case, Escalation, Mention
from escalation.people import Directory
from escalation.queues import Listed, Queue

SECTION_BUDGET = 2800  # characters of lines in one section, leaving room for "and N more"
CLAIM_BUTTONS = 10  # unclaimed cases shown with their own Claim button
LOAD_LINES = 15


def home_view(queue: Queue, org: Directory, now: datetime) -> dict:
    """The Home tab of one person: what they own, what nobody owns, what their departments owe."""
    blocks = [
        {"type": "header", "text": plain("Your social queue", 150)},
        context(
            f"As of {_time(now)} · redrawn each time you open this tab, and after you claim"
            " or release a case here"
        ),
        _list("My cases", queue.mine, [_case_line(c, queue, org, now) for c in queue.mine.items]),
        {"type": "divider"},
        *_unclaimed(queue, org, now),
        {"type": "divider"},
        _list(
            "My departments' escalations",
            queue.escalations,
            [_escalation_line(e, queue, org, now) for e in queue.escalations.items],
        ),
        {"type": "divider"},
        _load(queue, org),
    ]
    return {"type": "home", "blocks": [b for b in blocks if b]}


def stranger_home(refusal: str) -> dict:
    """The Home tab of someone who is not in the organisation file: no queue, whom to ask."""
    header = {"type": "header", "text": plain("Your social queue", 150)}
    return {"type": "home", "blocks": [header, mrkdwn_section(refusal)]}


def _list(title: str, listed: Listed, lines: list[str]) -> dict:
    """One section: a title with the count, as many lines as fit, and how many more there are."""
    kept, size = [], 0
    for line in lines:
        if size + len(line) + 1 > SECTION_BUDGET:
            break
        kept.append(line)
        size += len(line) + 1
    more = listed.total - len(kept)
    tail = [f"and {more} more"] if more > 0 else []
    body = kept + tail if listed.total else ["nothing here"]
    return mrkdwn_section("\n".join([f"*{title}* ({listed.total})", *body]))


def _unclaimed(queue: Queue, org: Directory, now: datetime) -> list[dict]:
    listed = queue.unclaimed
    blocks = [mrkdwn_section(f"*Unclaimed* ({listed.total})" + ("" if listed.total else "\nnone"))]
    for case in listed.items[:CLAIM_BUTTONS]:
        section = mrkdwn_section(_case_line(case, queue, org, now))
        section["accessory"] = button("Claim", ActionId.CLAIM, str(case.id), "primary")
        blocks.append(section)
    more = listed.total - min(len(listed.items), CLAIM_BUTTONS)
    if more > 0:
        blocks.append(context(f"and {more} more"))
    return blocks


def _load(queue: Queue, org: Directory) -> dict:
    lines = [f"{escape(org.name(owner))}: {count} open" for owner, count in queue.load]
    listed = Listed(lines[:LOAD_LINES], len(lines))
    section = _list("The team's load", listed, listed.items)
    section["text"]["text"] += f"\nUnclaimed: {queue.unclaimed.total} open"
    return section


def _case_line(case: Case, queue: Queue, org: Directory, now: datetime) -> str:
    due = deadline_line(case.deadline(DeadlineKind.FIRST_REPLY), org, now)
    return f"{_case(case, queue.openings.get(case.id))}{' · ' + due if due else ''}"


def _escalation_line(escalation: Escalation, queue: Queue, org: Directory, now: datetime) -> str:
    case = escalation.case
    deadline = case.deadline(DeadlineKind.ACKNOWLEDGE, escalation.id)
    due = deadline_line(deadline, org, now)
    department = escape(org.department(escalation.department).name)
    state = "acknowledged" if escalation.acknowledged_at else "waiting"
    line = f"{_case(case, queue.openings.get(case.id))} · {department}, {state}"
    return f"{line}{' · ' + due if due else ''}"


def _case(case: Case, mention: Mention | None) -> str:
    if mention is None:
        return f"*#{case.id}* {case.priority}"
    text = escape(shorten(" ".join(mention.text.split()), 80))
    who = escape(mention.author_handle)
    return f"*#{case.id}* {case.priority} · {source_name(mention.source)} @{who}: {text}"


def _time(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short}} {{time}}|{moment:%d %b %H:%M} UTC>"
