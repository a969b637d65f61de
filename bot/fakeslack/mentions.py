"""Which notifications Slack would deliver for a message, from its mrkdwn and rich text.

Slack only parses control sequences written with a literal `<`: `&lt;!channel&gt;` is inert, and
`plain_text` objects are never parsed. With `link_names` (or `parse=full`) Slack also turns bare
`@channel`, `@here`, `@everyone` and `@username` into mentions; the bot must never send them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

_CONTROL = re.compile(
    r"<(!channel|!here|!everyone|@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+)(?:\|[^>]*)?>"
)
_BARE = re.compile(r"(?<![\w<@])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_BROADCASTS = ("channel", "here", "everyone")
# Parts of a block that never render as notifying text (menus, dialogs, input hints).
_SKIPPED_KEYS = frozenset(
    ("accessory", "element", "confirm", "options", "option_groups", "placeholder", "label", "hint")
)

Mention = tuple[str, str]  # (kind, target)


def _classify(token: str) -> Mention:
    if token.startswith("!subteam^"):
        return ("subteam", token.removeprefix("!subteam^"))
    if token.startswith("@"):
        return ("user", token[1:])
    return (token[1:], "")


def in_mrkdwn(
    text: str, link_names: bool = False, users: dict[str, str] | None = None
) -> list[Mention]:
    """Mentions in one mrkdwn string; `users` maps user names to ids for link_names."""
    found = [_classify(m.group(1)) for m in _CONTROL.finditer(text)]
    if link_names:
        found.extend(_bare_mentions(text, users or {}))
    return found


def _bare_mentions(text: str, users: dict[str, str]) -> Iterator[Mention]:
    for match in _BARE.finditer(text):
        word = match.group(1).lower()
        if word in _BROADCASTS:
            yield (word, "")
        elif word in users:
            yield ("user", users[word])


def in_rich_text(node: Any) -> Iterator[Mention]:
    """Mentions in rich_text elements (broadcast, user and usergroup elements)."""
    if isinstance(node, list):
        for item in node:
            yield from in_rich_text(item)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "broadcast" and node.get("range") in _BROADCASTS:
        yield (node["range"], "")
    elif kind == "user" and isinstance(node.get("user_id"), str):
        yield ("user", node["user_id"])
    elif kind == "usergroup" and isinstance(node.get("usergroup_id"), str):
        yield ("subteam", node["usergroup_id"])
    yield from in_rich_text(node.get("elements"))


def _block_strings(node: Any) -> Iterator[str]:
    """Every mrkdwn string in a block tree, skipping interactive parts."""
    if isinstance(node, list):
        for item in node:
            yield from _block_strings(item)
        return
    if not isinstance(node, dict) or node.get("type") in ("actions", "input", "rich_text"):
        return
    if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
        yield node["text"]
        return
    for key, value in node.items():
        if key not in _SKIPPED_KEYS:
            yield from _block_strings(value)


def in_message(
    text: str | None,
    blocks: Any,
    mrkdwn: bool = True,
    link_names: bool = False,
    users: dict[str, str] | None = None,
) -> list[Mention]:
    """Distinct mentions of a whole message: one notification per target, as Slack sends."""
    found: list[Mention] = []
    if text and mrkdwn:
        found += in_mrkdwn(text, link_names, users)
    for piece in _block_strings(blocks or []):
        found += in_mrkdwn(piece, link_names, users)
    rich = [b for b in blocks or [] if isinstance(b, dict) and b.get("type") == "rich_text"]
    found += in_rich_text(rich)
    return _unique(found)


def _unique(items: Iterable[Mention]) -> list[Mention]:
    seen: dict[Mention, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
