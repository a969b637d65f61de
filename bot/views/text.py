"""Text pieces for mrkdwn: escaping, links, reach, dates, quoted posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

SECTION_LIMIT = 3000
FALLBACK_PREVIEW = 150
SOURCE_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "slack": "Slack"}


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


def plain(text: str, limit: int) -> dict:
    """A plain_text object (never parsed by Slack), cut to `limit` characters."""
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn_section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": shorten(text, SECTION_LIMIT)}}


def context(*parts: str) -> dict | None:
    """A context block of the non-empty parts; None when there are none (Slack refuses those)."""
    elements = [{"type": "mrkdwn", "text": p} for p in parts if p]
    return {"type": "context", "elements": elements} if elements else None


def quoted(text: str, limit: int = 1500) -> str:
    """Staff's own words (a question, an answer) quoted and escaped, cut to `limit`."""
    return "\n".join(f"> {line}" for line in escape(shorten(text, limit)).splitlines() or [""])


def permalink(team_url: str, channel: str | None, ts: str | None) -> str | None:
    """Slack's permalink for a message: {workspace}/archives/{channel}/p{ts without the dot}."""
    if not (team_url and channel and ts):
        return None
    return f"{team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
