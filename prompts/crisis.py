"""The closing-summary prompt of a crisis, rendered from the files beside this module."""

from __future__ import annotations

from typing import Any

from prompts.render import Messages, _fill, _template, data_json

SUMMARY_FILES = ("crisis.summary.system.md", "crisis.summary.user.md")
SUMMARY_LIMIT = 2000  # characters the closing message gives the summary


def render_summary_prompt(timeline: dict[str, Any]) -> Messages:
    """The messages asking for a crisis's closing summary; `timeline` goes in as labelled data."""
    system, user = (_template(name) for name in SUMMARY_FILES)
    return [
        {"role": "system", "content": system.strip()},
        {"role": "user", "content": _fill(user, {"timeline": data_json(timeline, indent=1)})},
    ]


def summary_problem(text: str) -> str | None:
    """Why an LLM's summary cannot be posted as it is, or None."""
    if not text.strip():
        return "the summary is empty"
    if len(text) > SUMMARY_LIMIT:
        return f"the summary is longer than {SUMMARY_LIMIT} characters"
    return None
