"""Surges: the alert the rapid-action team gets, and how a surge's mentions roll up in triage.

During a surge the triage channel shows one card for the whole cluster, its count redrawn in
place; the mentions go in the card's thread, many to a message, so the channel stays readable
and within Slack's posting rate.
"""

from __future__ import annotations

from bot.views.cards import added_mention, author_line, button
from bot.views.ids import ActionId
from bot.views.text import (
    SECTION_LIMIT,
    Message,
    context,
    escape,
    link,
    mrkdwn_section,
    plain,
    quoted,
    shorten,
    slack_date,
    source_name,
)
from escalation.models import Mention
from escalation.surge import AlertKind, SurgeAlert, topic_label

HEADINGS = {
    AlertKind.VOLUME: "🌊 Surge: {topic}",
    AlertKind.SENTIMENT: "📉 Sentiment is dropping",
    AlertKind.REACH: "📣 A high-reach negative post",
}
SAMPLES = 3
LINE_TEXT = 120  # characters of each rolled-up mention's text
LINE_MAX = 250  # a line's mrkdwn at most: 40 lines (ADDED_PER_MESSAGE) stay under the ~12,000
# characters of text Slack accepts in one message's blocks (msg_blocks_too_long)


def surge_alert(surge: SurgeAlert, samples: list[Mention]) -> Message:
    """The alert in the rapid-response channel: what was seen, the evidence, one click to act."""
    alert = surge.alert
    heading = HEADINGS[alert.kind].format(topic=topic_label(alert.topic))
    blocks = [
        {"type": "header", "text": plain(heading, 150)},
        mrkdwn_section(escape(alert.reason)),
    ]
    for mention in samples[:SAMPLES]:
        blocks.append(mrkdwn_section(f"{author_line(mention)}\n{quoted(mention.text, 600)}"))
    more = f"{alert.count} in the window" if alert.count > SAMPLES else ""
    blocks.append(context(f"Detected {slack_date(alert.window_end)}", more))
    declare = button("Declare crisis", ActionId.SURGE_DECLARE, str(surge.id), style="danger")
    blocks.append({"type": "actions", "block_id": "surge-actions", "elements": [declare]})
    return Message(escape(f"{heading}: {shorten(alert.reason, 300)}"), [b for b in blocks if b])


def roll_up_line(topic: str, mentions: int) -> str:
    """The line a roll-up card carries above its first mention."""
    return f"🌊 *Surge: {escape(topic_label(topic))}* · {mentions:,} mentions, all in the thread"


def rolled_up(mentions: list[Mention]) -> Message:
    """Later mentions of a busy case (a surge's roll-up), many to one thread message."""
    if len(mentions) == 1:  # one at a time: shown in full, as a later mention of a conversation
        return added_mention(mentions[0])
    lines = [_line(mention) for mention in mentions]
    blocks, chunk = [], ""
    for line in lines:
        if len(chunk) + len(line) + 1 > SECTION_LIMIT:
            blocks.append(_verbatim(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    blocks.append(_verbatim(chunk))
    return Message(f"{len(mentions)} more mentions", blocks[:49])


def _line(mention: Mention) -> str:
    """One mention in a line: who, what (shortened), a link to it when that fits."""
    who = f"*{escape(shorten(mention.author_display_name or mention.author_handle, 40))}*"
    text = escape(shorten(" ".join(mention.text.split()), LINE_TEXT))
    line = f"• {who} @{escape(mention.author_handle)}: {text}"
    where = link(mention.url, source_name(mention.source)) if mention.url else ""
    if where and len(line) + len(where) < LINE_MAX:
        return f"{line} {where}"
    return shorten(line, LINE_MAX)


def _verbatim(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
