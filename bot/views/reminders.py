"""Reminders of the ladder, and the deadline line on the cards."""

from __future__ import annotations

from datetime import datetime

from bot.views.ids import ActionId
from bot.views.text import Message, context, escape, link, mrkdwn_section, permalink, plain
from escalation.deadlines import ClockState, DeadlineKind, in_words
from escalation.models import Deadline, DeadlineStatus, Nag
from escalation.people import Directory, person
from escalation.sla import clock_of

WHAT = {
    DeadlineKind.FIRST_REPLY: "reply",
    DeadlineKind.ACKNOWLEDGE: "acknowledgement",
    DeadlineKind.RESOLVE: "resolution",
}


def deadline_line(deadline: Deadline | None, org: Directory, now: datetime) -> str:
    """'⏱ reply due in 12 min (by 14:35)', '⚠️ ... at risk', '🔴 reply overdue: breached'."""
    if deadline is None or org.policies is None:
        return ""
    what = WHAT[DeadlineKind(deadline.kind)]
    if deadline.status == DeadlineStatus.MET:
        return f"✔️ {what} in time" if not deadline.breached_at else f"✔️ {what} made, late"
    if deadline.status == DeadlineStatus.PAUSED:
        return f"⏸️ {what} clock paused (waiting on the customer)"
    if deadline.status != DeadlineStatus.RUNNING:
        return ""
    stand = clock_of(deadline, org.policies, now)
    by = _time(deadline.due_at)
    if stand.state == ClockState.BREACHED or deadline.state == "breached":
        return f"🔴 {what} overdue since {by}: *breached*"
    if stand.state == ClockState.AT_RISK or deadline.state == "at_risk":
        return f"⚠️ {what} due in {in_words(stand.left)} (by {by}): *at risk*"
    return f"⏱ {what} due in {in_words(stand.left)} (by {by})"


def _time(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment:%H:%M} UTC>"


def nag_text(nag: Nag, org: Directory, now: datetime, team_url: str) -> str:
    deadline, case = nag.deadline, nag.deadline.case
    what = WHAT[DeadlineKind(deadline.kind)]
    stand = clock_of(deadline, org.policies, now) if org.policies else None
    left = (
        f"due in {in_words(stand.left)}" if stand and stand.left.total_seconds() > 0 else "overdue"
    )
    step = nag.step.split("/")[0]
    dept = org.departments.get(deadline.department or "")
    subject = f"*{escape(dept.name)}* {what}" if dept else f"The {what}"
    if step == "unclaimed":
        return f"⏰ Still unclaimed after {in_words(now - deadline.started_at)}; {what} {left}."
    if step == "half":
        return f"⏰ {subject} {left}; half the time is gone."
    if step == "at_risk":
        names = " ".join(person(p) for p in _named(deadline, org))
        return f"⚠️ {subject} {left}: at risk. {names}".strip()
    where = permalink(team_url, case.triage_channel, case.triage_ts)
    thread = f" · {link(where, 'open the case')}" if where else ""
    return f"🔴 Case #{case.id} ({case.priority}): {subject} is {left}{thread}."


def _named(deadline: Deadline, org: Directory) -> list[str]:
    case = deadline.case
    owner = [case.owner_id] if case.owner_id and deadline.kind == DeadlineKind.FIRST_REPLY else []
    department = deadline.department or (case.escalation.department if case.escalation else None)
    department = department or (org.policies.triage_department if org.policies else None)
    info = org.departments.get(department or "")
    return [*owner, *(info.leads if info else ())]


def nag_message(nag: Nag, org: Directory, now: datetime, team_url: str) -> Message:
    """A reminder by direct message, with a Snooze button."""
    text = nag_text(nag, org, now, team_url)
    snooze = org.policies.ladder.snooze if org.policies else None
    blocks = [mrkdwn_section(text)]
    if snooze:
        minutes = int(snooze.total_seconds() // 60) or 1
        blocks.append(
            {
                "type": "actions",
                "block_id": "nag-actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.SNOOZE,
                        "value": str(nag.id),
                        "text": plain(f"Remind me in {minutes} min", 75),
                    }
                ],
            }
        )
    blocks.append(context(f"Case #{nag.deadline.case_id} · {nag.deadline.case.priority}"))
    return Message(text, blocks)
