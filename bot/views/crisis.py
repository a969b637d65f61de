"""The rapid-action team's views: the modals that declare, update and close a crisis; the war
room's brief, updates, reminders and closing summary; role instructions; the answers to the
slash command. Everything people typed is escaped (bot/views/text.py)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from bot.views.ids import ActionId, CallbackId
from bot.views.modals import modal, text_input
from bot.views.text import (
    Message,
    context,
    escape,
    link,
    mrkdwn_section,
    permalink,
    plain,
    quoted,
    shorten,
    slack_date,
    source_name,
)
from escalation.crises import Crisis, CrisisRoleName, CrisisUpdate, Severity
from escalation.crisis_report import CrisisState, Timeline, TimelineCase
from escalation.deadlines import in_words
from escalation.models import Case
from escalation.people import Directory, person
from escalation.surge import Alert, AlertKind, topic_label

SEVERITIES = {
    Severity.SEV1: "SEV1 · highest: safety, data breach, press, mass outage",
    Severity.SEV2: "SEV2 · major: a town or region, a viral complaint",
    Severity.SEV3: "SEV3 · contained: watch it closely",
}
BADGES = {Severity.SEV1: "🔴", Severity.SEV2: "🟠", Severity.SEV3: "🟡"}
ROLE_DUTIES = {
    CrisisRoleName.LEAD: (
        "You decide, you give out the other roles (`{command} role comms @person`) and you keep"
        " the cadence: an update every {every} (`{command} update`). When it is over,"
        " `{command} close` posts the summary."
    ),
    CrisisRoleName.COMMS: (
        "You own what the brand says: the holding statement and the public replies. Keep"
        " Marketing & Communications and Legal in the loop, and tell the war room before"
        " anything goes out."
    ),
    CrisisRoleName.SCRIBE: (
        "You keep the record: note decisions, times and who does what in the war room as they"
        " happen. The closing summary is built from the updates and the bot's audit trail."
    ),
}
MAX_CASES_SHOWN = 10
MAX_TIMELINE_LINES = 25
TOPIC_LIMIT = 250


# --- modals -------------------------------------------------------------------------------------


def _line_input(block_id: str, label: str, initial: str, *, optional=False, limit=150) -> dict:
    block = text_input(block_id, label, optional=optional, limit=limit)
    block["element"]["multiline"] = False
    if initial:
        block["element"]["initial_value"] = shorten(initial, limit)
    return block


def _severity_option(severity: Severity) -> dict:
    return {"text": plain(SEVERITIES[severity], 75), "value": severity.value}


def declare_modal(
    *,
    title: str = "",
    severity: Severity = Severity.SEV2,
    summary: str = "",
    case_ids: tuple[int, ...] = (),
    surge_alert_id: int | None = None,
) -> dict:
    """Title, severity, what is happening and the linked cases (prefilled from a surge)."""
    select = {
        "type": "static_select",
        "action_id": "severity",
        "options": [_severity_option(s) for s in Severity],
        "initial_option": _severity_option(severity),
    }
    what = text_input("summary", "What is happening?", limit=2000)
    if summary:
        what["element"]["initial_value"] = shorten(summary, 2000)
    blocks = [
        mrkdwn_section(
            "A war-room channel is created, the rapid-action team and the leads of the linked"
            " cases' departments are invited, and a brief is pinned there."
        ),
        _line_input("title", "Title", title),
        {
            "type": "input",
            "block_id": "severity",
            "label": plain("Severity", 2000),
            "element": select,
        },
        what,
        _line_input(
            "cases",
            "Linked cases (numbers, separated by commas)",
            ", ".join(map(str, case_ids)),
            optional=True,
            limit=500,
        ),
    ]
    metadata = {"surge": surge_alert_id} if surge_alert_id else {}
    return modal(CallbackId.CRISIS_DECLARE, "Declare a crisis", "Declare", blocks, metadata)


def update_modal(crisis: Crisis) -> dict:
    blocks = [
        mrkdwn_section(f"Update on *{escape(crisis.title)}*, for the war room and the team."),
        text_input("conditions", "Conditions: how do things stand?"),
        text_input("actions", "Actions: what is being done, by whom?"),
        text_input("needs", "Needs: what does the team need?", optional=True),
    ]
    metadata = {"crisis": crisis.id}
    return modal(CallbackId.CRISIS_UPDATE, "Crisis update", "Post update", blocks, metadata)


def close_modal(crisis: Crisis) -> dict:
    blocks = [
        mrkdwn_section(
            f"Close *{escape(crisis.title)}*? Its summary and timeline are posted in the war room"
            " and the rapid-response channel, with a button to archive the war room."
        ),
        text_input("outcome", "Outcome, in your words", optional=True),
    ]
    metadata = {"crisis": crisis.id}
    return modal(CallbackId.CRISIS_CLOSE, "Close the crisis", "Close crisis", blocks, metadata)


def surge_title(alert: Alert) -> str:
    """A crisis title from a surge alert's topic: 'Surge: Leeds', 'Surge: #boycottbrightwave'."""
    label = topic_label(alert.topic)
    if alert.kind == AlertKind.SENTIMENT or not label:
        return "Surge: negative mentions"
    if alert.kind == AlertKind.REACH:
        return f"High-reach post by @{alert.topic.rsplit(':', 1)[-1]}"
    return f"Surge: {label}"


# --- the war room -------------------------------------------------------------------------------


def heading(crisis: Crisis) -> str:
    return f"{BADGES.get(crisis.severity, '')} {crisis.severity} · {crisis.title}".strip()


def case_line(case: Case, team_url: str) -> str:
    """'• Case 12 · P1 · claimed · X @phil: “my broadband…”', linked to its triage card."""
    mention = case.mention
    where = permalink(team_url, case.triage_channel, case.triage_ts)
    name = link(where, f"Case {case.id}") if where else f"Case {case.id}"
    said = escape(shorten(" ".join(mention.text.split()), 100))
    who = f"{source_name(mention.source)} @{escape(mention.author_handle)}"
    return f"• *{name}* · {case.priority} · {case.status.replace('_', ' ')} · {who}: “{said}”"


def brief(crisis: Crisis, volume: int, org: Directory, team_url: str, every: timedelta) -> Message:
    """What is happening, the linked cases and the volume so far: pinned in the war room."""
    cases = [link.case for link in crisis.links]
    lines = [case_line(case, team_url) for case in cases[:MAX_CASES_SHOWN]]
    if len(cases) > MAX_CASES_SHOWN:
        lines.append(f"…and {len(cases) - MAX_CASES_SHOWN} more")
    open_count = sum(case.status != "resolved" for case in cases)
    blocks = [
        {"type": "header", "text": plain(f"🚨 {heading(crisis)}", 150)},
        mrkdwn_section(f"*What is happening*\n{quoted(crisis.summary or '(no summary)', 2500)}"),
        mrkdwn_section("*Linked cases*\n" + ("\n".join(lines) or "None yet: `link` attaches one.")),
        mrkdwn_section(
            f"*Volume so far:* {volume} mention{'s' if volume != 1 else ''} in {len(cases)}"
            f" case{'s' if len(cases) != 1 else ''}, {open_count} open."
        ),
        context(
            f"Declared by {escape(org.name(crisis.declared_by))} {slack_date(crisis.declared_at)}",
            f"an update is due every {in_words(every)}",
        ),
    ]
    return Message(f"Crisis declared: {escape(crisis.title)} ({crisis.severity})", blocks)


def topic(crisis: Crisis, org: Directory, every: timedelta) -> str:
    """The war room's topic: plain words, no Slack syntax."""
    lead = crisis.holder(CrisisRoleName.LEAD)
    who = org.name(lead) if lead and lead in org.people else "to be named"
    text = f"{crisis.severity} · {crisis.title} · lead: {who} · update every {in_words(every)}"
    return shorten(text.replace("<", "").replace(">", ""), TOPIC_LIMIT)


def update_message(
    crisis: Crisis, update: CrisisUpdate, org: Directory, every: timedelta, *, war_room=True
) -> Message:
    parts = [("Conditions", update.conditions), ("Actions", update.actions)]
    parts += [("Needs", update.needs)] if update.needs else []
    where = "" if war_room or not crisis.channel_id else f"war room: <#{crisis.channel_id}>"
    blocks = [
        {"type": "header", "text": plain(f"📣 Update · {heading(crisis)}", 150)},
        *(mrkdwn_section(f"*{label}*\n{quoted(text, 2800)}") for label, text in parts),
        context(
            f"by {escape(org.name(update.posted_by))} {slack_date(update.posted_at)}",
            f"next one due in {in_words(every)}",
            where,
        ),
    ]
    return Message(f"Crisis update: {escape(crisis.title)}", blocks)


def reminder(crisis: Crisis, now: datetime, every: timedelta, command: str) -> str:
    silent = now - (crisis.last_update_at or crisis.declared_at)
    lead = crisis.holder(CrisisRoleName.LEAD)
    ask = (
        f"{person(lead)}, time for `{command} update`."
        if lead
        else (f"Time for `{command} update`; and `{command} role lead @person` names a lead.")
    )
    last = "since the last update" if crisis.last_update_at else "since the crisis was declared"
    return (
        f"⏰ {in_words(silent)} {last}: a {crisis.severity} crisis posts one every"
        f" {in_words(every)}. {ask}"
    )


def role_note(role: str, holder: str, by: str, org: Directory) -> str:
    return f"👤 {escape(org.name(holder))} is now the {role} (given by {escape(org.name(by))})."


def role_instructions(crisis: Crisis, role: CrisisRoleName, every: timedelta, command: str):
    where = f" in <#{crisis.channel_id}>" if crisis.channel_id else ""
    duties = ROLE_DUTIES[role].format(command=command, every=in_words(every))
    text = f"You are the *{role.value}* of the crisis *{escape(heading(crisis))}*{where}.\n{duties}"
    return Message(f"You are the {role.value} of the crisis {escape(crisis.title)}", [
        mrkdwn_section(text)
    ])  # fmt: skip


def linked_note(case: Case, by: str, org: Directory, team_url: str) -> str:
    return f"🔗 {escape(org.name(by))} linked a case:\n{case_line(case, team_url)}"


# --- answers to the command ---------------------------------------------------------------------


def help_message(command: str, not_understood: str | None = None) -> Message:
    lines = [
        f"• `{command} declare [title]`: open a crisis: a war room, the team invited, a pinned"
        " brief",
        f"• `{command} status`: open crises, their volume, open cases and last update",
        f"• `{command} update`: post an update (conditions, actions, needs)",
        f"• `{command} role lead|comms|scribe @person`: give a role; its instructions go by DM",
        f"• `{command} link <case>`: attach a case (its number, its triage card's link or the"
        " post's link)",
        f"• `{command} close`: close it, with a summary and the timeline",
        "In a war room the commands act on its crisis; elsewhere on the one open crisis. Only"
        " the rapid-action team declares, updates, gives roles and closes.",
    ]
    intro = f"*{command}*: the rapid-action team's crisis commands"
    if not_understood is not None:
        intro = f"I did not understand “{escape(shorten(not_understood, 80))}”. {intro}"
    return Message(f"{command} help", [mrkdwn_section(intro + "\n" + "\n".join(lines))])


def status_message(states: list[CrisisState], org: Directory, now: datetime, cadence) -> Message:
    if not states:
        return Message("No crisis is open.", [mrkdwn_section("No crisis is open.")])
    lines = [_state_line(state, org, now, cadence[state.severity]) for state in states]
    count = f"{len(states)} open cris{'es' if len(states) > 1 else 'is'}"
    return Message(count, [mrkdwn_section(f"*{count}*\n" + "\n".join(lines))])


def _state_line(state: CrisisState, org: Directory, now: datetime, every: timedelta) -> str:
    room = f"<#{state.channel_id}>" if state.channel_id else "no war room yet"
    if state.setup_error and not state.ready:
        room += f" (war room not ready: {escape(state.setup_error)})"
    silent = in_words(state.silent_for(now))
    last = f"last update {silent} ago" if state.last_update_at else f"no update yet ({silent})"
    late = " ⚠️ overdue" if state.silent_for(now) > every else ""
    lead = state.roles.get(CrisisRoleName.LEAD)
    return (
        f"• {BADGES.get(state.severity, '')} *{state.severity} · {escape(state.title)}* in {room}:"
        f" {state.volume} mention{'s' if state.volume != 1 else ''},"
        f" {state.open_cases} of {state.cases} cases open, {last}{late}"
        f" · lead: {escape(org.name(lead)) if lead else 'none'}"
    )


# --- the close ----------------------------------------------------------------------------------


def plain_summary(timeline: Timeline, org: Directory) -> str:
    """The closing summary without an LLM: the timeline's facts in plain sentences."""
    ran = in_words(timeline.duration) if timeline.duration else "a while"
    cases = timeline.cases
    replied = [c.first_reply for c in cases if c.first_reply is not None]
    missing = [str(c.case_id) for c in cases if c.first_reply is None]
    sentences = [
        f"{timeline.title} ({timeline.severity}) ran {ran}, declared by"
        f" {org.name(timeline.declared_by)} and closed by {org.name(timeline.closed_by)}.",
        f"It drew {timeline.volume} mentions across {len(cases)} linked cases.",
    ]
    if replied:
        median = in_words(statistics.median(replied))
        sentences.append(f"{len(replied)} had a first public reply, typically within {median}.")
    if missing:
        sentences.append(f"No public reply yet for case {', '.join(missing)}.")
    sentences.append(f"The team posted {len(timeline.updates)} updates.")
    if timeline.outcome:
        sentences.append(f"Outcome: {timeline.outcome}")
    return " ".join(sentences)


def closing_message(
    timeline: Timeline, summary: str, origin: str, org: Directory, channel_id: str | None
) -> Message:
    label = (
        "🤖 AI summary" + origin.removeprefix("llm") if origin.startswith("llm") else "📄 Summary"
    )
    blocks = [
        {
            "type": "header",
            "text": plain(f"✅ Closed · {timeline.severity} · {timeline.title}", 150),
        },
        mrkdwn_section(f"*{escape(label)}*\n{escape(summary)}"),
        mrkdwn_section("*Cases*\n" + ("\n".join(map(_timeline_case, timeline.cases)) or "None.")),
        mrkdwn_section("*Timeline*\n" + "\n".join(_timeline_lines(timeline, org))),
    ]
    if channel_id:
        blocks.append(
            {
                "type": "actions",
                "block_id": "crisis-close",
                "elements": [_archive_button(timeline.id, channel_id)],
            }
        )
    return Message(f"Crisis closed: {escape(timeline.title)}", blocks)


def _archive_button(crisis_id: int, channel_id: str) -> dict:
    return {
        "type": "button",
        "action_id": ActionId.CRISIS_ARCHIVE,
        "text": plain("Archive channel", 75),
        "value": str(crisis_id),
        "confirm": {
            "title": plain("Archive the war room?", 100),
            "text": {"type": "mrkdwn", "text": f"<#{channel_id}> becomes read-only."},
            "confirm": plain("Archive", 30),
            "deny": plain("Cancel", 30),
        },
    }


def _timeline_case(case: TimelineCase) -> str:
    reply = case.first_reply
    replied = f"first reply in {in_words(reply)}" if reply is not None else "no public reply"
    return f"• Case {case.case_id} · {case.priority} · {case.status.replace('_', ' ')} · {replied}"


def _timeline_lines(timeline: Timeline, org: Directory) -> list[str]:
    lines = [
        f"• {_clock(e.at)} {escape(org.name(e.actor)) if e.actor else 'Bot'}:"
        f" {_event_words(e.action, e.data, org)}"
        for e in timeline.events
        if e.action != "summary_written"
    ]
    if len(lines) > MAX_TIMELINE_LINES:
        lines = [*lines[: MAX_TIMELINE_LINES - 1], f"…and {len(lines) - MAX_TIMELINE_LINES + 1}"]
    return lines


def _event_words(action: str, data: dict, org: Directory) -> str:
    named = escape(org.name(data.get("person"))) if data.get("person") else ""
    words = {
        "declared": f"declared it ({data.get('severity', '')})",
        "war_room_created": f"opened the war room #{escape(data.get('name') or '')}",
        "war_room_ready": f"invited {len(data.get('invited') or [])} people, pinned the brief",
        "setup_failed": f"could not finish the war room ({escape(data.get('error') or '')})",
        "role_assigned": f"made {named} the {data.get('role', '')}",
        "case_linked": f"linked case {data.get('case', '')}",
        "update_posted": "posted an update",
        "reminded": f"reminded the war room ({in_words(_seconds(data))} without an update)",
        "closed": "closed it",
        "archived": "archived the war room",
    }
    return words.get(action, escape(action.replace("_", " ")))


def _seconds(data: dict) -> timedelta:
    return timedelta(seconds=int(data.get("silent_seconds") or 0))


def _clock(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment:%H:%M} UTC>"
