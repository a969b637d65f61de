"""The themes prompt of the managers' digest, rendered from the files beside this module."""

from __future__ import annotations

from collections.abc import Sequence

from prompts.render import Messages, _fill, _template, data_json

THEMES_FILES = ("digest.themes.system.md", "digest.themes.user.md")
THEMES_LIMIT = 800  # characters the digest gives the summary
POST_LIMIT = 280  # characters of each sample post


def render_themes_prompt(terms: Sequence[tuple[str, int]], posts: Sequence[str]) -> Messages:
    """The messages asking for a summary of the themes; the posts go in as labelled data."""
    system, user = (_template(name) for name in THEMES_FILES)
    data = {"frequent_terms": dict(terms), "sample_posts": [p[:POST_LIMIT] for p in posts]}
    return [
        {"role": "system", "content": system.strip()},
        {"role": "user", "content": _fill(user, {"posts": data_json(data, indent=1)})},
    ]


def themes_problem(text: str) -> str | None:
    """Why an LLM's summary cannot be shown as it is, or None."""
    if not text.strip():
        return "the summary is empty"
    if len(text) > THEMES_LIMIT:
        return f"the summary is longer than {THEMES_LIMIT} characters"
    return None
