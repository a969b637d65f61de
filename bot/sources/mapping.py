"""What every source needs to turn a network's post into a `NewMention`: plain text, sane
names and languages, aware times, id order, and a mention that validates or is skipped."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError

from escalation.mentions import MAX_TEXT, NewMention

log = logging.getLogger(__name__)

NO_TEXT = "(no text)"  # an image-only post still deserves a card
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Codes that name no language: X's "und" (undetermined), "zxx" (no text), "qme" (media only)...
NOT_A_LANGUAGE = {"und", "zxx", "mul", "mis", "qam", "qct", "qht", "qme", "qst"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
BLOCKS = {"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}


def plain_text(text: str | None) -> str:
    """`text` without control characters, at most MAX_TEXT long, never empty."""
    text = CONTROL.sub("", (text or "").replace("\r\n", "\n")).strip()
    return text[:MAX_TEXT] if text else NO_TEXT


def display_name(name: str | None) -> str | None:
    name = CONTROL.sub("", name or "").strip()
    return name[:256] or None


def language(code: str | None) -> str | None:
    if not code or code.lower() in NOT_A_LANGUAGE or not LANGUAGE.match(code):
        return None
    return code


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as the APIs send it ("2026-11-24T08:15:00.000Z"), made aware."""
    return aware(datetime.fromisoformat(text))


def id_order(value: str) -> tuple[int, str]:
    """Sort key of snowflake-like ids: numeric strings compare by length, then digit by digit."""
    return len(value), value


def newest_id(ids: list[str], current: str | None) -> str | None:
    known = [*ids, *([current] if current else [])]
    return max(known, key=id_order) if known else None


def is_newer(value: str, cursor: str | None) -> bool:
    return cursor is None or id_order(value) > id_order(cursor)


def html_to_text(html: str | None) -> str:
    """Mastodon's HTML as the text a person reads: no tags, line breaks kept, entities decoded."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        # In HTML a line break in the source is a space; only <br> and blocks break lines.
        self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def build(key: str, **fields: Any) -> NewMention | None:
    """The mention, or None (logged) when the network sent something NewMention refuses."""
    try:
        return NewMention(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        log.warning(
            "source %s: skipped post %s: %s: %s",
            key,
            fields.get("external_id"),
            where,
            first["msg"],
        )
        return None


def convert(key: str, mapper: Callable[..., NewMention | None], *args: Any) -> NewMention | None:
    """`mapper(*args)`, or None (logged) when the post lacks what the mapper needs: one odd
    post must not stop its account's cursor for ever."""
    try:
        return mapper(key, *args)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("source %s: skipped a post: %s: %s", key, type(exc).__name__, exc)
        return None
