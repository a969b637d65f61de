"""Block Kit builders: pure functions of domain state, shared by the first post and every update.

Every piece of text that came from outside (a post, a name, a link) passes `escape` or `link`, so
that `<!channel>`, `<@U123>` or `<https://evil|brightwave.co.uk>` in a tweet show as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from escalation.models import Mention

SECTION_LIMIT = 3000
FALLBACK_PREVIEW = 150
SOURCE_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


@dataclass(frozen=True)
class Message:
    """What chat.postMessage and chat.update take: fallback text and blocks."""

    text: str
    blocks: list[dict]


def escape(text: str) -> str:
    """Make untrusted text inert in mrkdwn: Slack's three control characters, ampersand first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link whose address cannot close the link early or smuggle a label in."""
    safe_url = quote(url, safe=":/?#[]@!$'()*+,;=%~.-_")
    return f"<{safe_url}|{escape(label)}>"


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source.capitalize())


def followers(count: int) -> str:
    """1,234 / 12.3k / 310k / 1.2M: reach at a glance."""
    if count < 10_000:
        return f"{count:,}"
    if count < 1_000_000:
        return (
            f"{count / 1000:.1f}k".replace(".0k", "k") if count < 100_000 else f"{count // 1000}k"
        )
    return f"{count / 1_000_000:.1f}M".replace(".0M", "M")


def slack_date(moment: datetime) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = moment.strftime("%d %b %Y %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def quote_blocks(text: str) -> list[dict]:
    """The post as quoted mrkdwn sections, split to stay within the section text limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk, "verbatim": True}}
        for chunk in _quoted_chunks(text, SECTION_LIMIT)
    ]


def _quoted_chunks(text: str, limit: int) -> list[str]:
    # Built a character at a time so that no chunk ends inside an escape such as "&amp;".
    chunks, current = [], ["> "]
    size = 2
    for char in text.strip("\n"):
        piece = "\n> " if char == "\n" else escape(char)
        if size + len(piece) > limit:
            chunks.append("".join(current))
            current, size = ["> "], 2
            piece = piece.lstrip("\n")
        current.append(piece)
        size += len(piece)
    return [*chunks, "".join(current)]


def author_line(mention: Mention) -> str:
    name = escape(mention.author_display_name or mention.author_handle)
    verified = " · ✓ verified" if mention.author_verified else ""
    reach = f"{followers(mention.author_followers)} followers"
    return f"*{name}* @{escape(mention.author_handle)} · {reach}{verified}"


def triage_card(mention: Mention) -> Message:
    """The card that stands for a mention in the triage channel."""
    where = source_name(mention.source)
    context = [f"{where} · posted {slack_date(mention.posted_at)}"]
    if mention.url:
        context.append(link(mention.url, f"Open on {where}"))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": author_line(mention)}},
        *quote_blocks(mention.text),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]
    preview = mention.text if len(mention.text) <= FALLBACK_PREVIEW else mention.text[:149] + "…"
    text = f"New {where} mention from @{mention.author_handle}: {preview}"
    return Message(text=escape(text), blocks=blocks)
