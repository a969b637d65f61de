"""Reply drafts for a mention, ready for a person to approve.

With an LLM configured, the drafts come from it; every one is checked in code, and when some fail
the model is asked once more, told what failed (as data). Whatever still fails is returned with
its problems, for the person to see. Without an LLM, or when it cannot answer, the drafts come
from the guide's templates and say so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.llm import LlmClient, LlmError, LlmOutputError
from escalation.drafts import (
    MAX_DRAFTS,
    CheckedDraft,
    DraftContext,
    DraftSet,
    check_drafts,
    context_for,
    template_drafts,
)
from prompts.render import Guide, load_guide, render_draft_prompt, render_retry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestions:
    """What the person is shown: two or three drafts, each with the rules it breaks."""

    drafts: tuple[CheckedDraft, ...]
    origin: Literal["llm", "template"]
    prompt_version: str
    model: str | None = None
    llm_calls: int = 0
    note: str | None = None  # why templates were used, when an LLM was configured
    # Template drafts offered as well when no LLM draft passed, so there is a safe choice.
    alternatives: tuple[CheckedDraft, ...] = ()

    @property
    def label(self) -> str:
        return "Template draft" if self.origin == "template" else f"AI draft ({self.model})"

    @property
    def approvable(self) -> list[CheckedDraft]:
        return [d for d in (*self.drafts, *self.alternatives) if d.passes]


@dataclass(frozen=True)
class _Attempt:
    checked: tuple[CheckedDraft, ...]
    answer: str  # what the model said, sent back with the failures
    failures: tuple[dict[str, Any], ...]

    @property
    def passed(self) -> bool:
        return bool(self.checked) and not self.failures


def draft_replies(
    mention: Any,
    *,
    agent_initials: str,
    llm: LlmClient | None,
    guide: Guide | None = None,
    department: str | None = None,
) -> Suggestions:
    """Drafts answering `mention` in the name of the agent with `agent_initials`, for
    `department` (default: the mention's suggested one, else care)."""
    guide = guide or load_guide()
    department = _department(guide, department or getattr(mention, "department", None))
    context = context_for(
        mention, rules=guide.rules, agent_initials=agent_initials, department=department
    )
    if llm is None:
        return _from_templates(guide, context)
    try:
        return _from_llm(llm, guide, mention, context)
    except LlmError as error:
        log.warning("drafting from templates: %s", error)
        return _from_templates(guide, context, note=f"The AI drafter failed ({error}).")


def _department(guide: Guide, suggested: str | None) -> str:
    return suggested if suggested in guide.departments else "care"


def _from_templates(guide: Guide, context: DraftContext, note: str | None = None) -> Suggestions:
    return Suggestions(
        drafts=tuple(_templates(guide, context)),
        origin="template",
        prompt_version=guide.prompt_version,
        note=note,
    )


def _templates(guide: Guide, context: DraftContext) -> list[CheckedDraft]:
    return check_drafts(template_drafts(guide.templates, context).drafts, context)


def _from_llm(llm: LlmClient, guide: Guide, mention: Any, context: DraftContext) -> Suggestions:
    messages = render_draft_prompt(
        guide,
        mention,
        department=context.department,
        agent_initials=context.sign_off.lstrip("^"),
        platform_limit=context.limit,
    )
    first = _attempt(llm, messages, context)
    attempts = [first]
    if not first.passed:
        attempts.append(
            _attempt(llm, render_retry(messages, first.answer, first.failures), context)
        )
    drafts = _merge(attempts[-1], first)
    if not drafts:
        raise LlmError("the AI drafter gave no readable drafts, twice")
    alternatives = () if any(d.passes for d in drafts) else tuple(_templates(guide, context))
    return Suggestions(
        drafts=tuple(drafts),
        origin="llm",
        prompt_version=guide.prompt_version,
        model=llm.model,
        llm_calls=len(attempts),
        alternatives=alternatives,
    )


def _attempt(llm: LlmClient, messages: list[dict[str, str]], context: DraftContext) -> _Attempt:
    try:
        drafts = llm.draft(messages)
    except LlmOutputError as error:
        failure = {"problem": f"Your answer could not be read: {error}. Answer with JSON only."}
        return _Attempt((), error.raw[:4000], (failure,))
    checked = tuple(check_drafts(drafts.drafts, context))
    return _Attempt(checked, _answer_json(drafts), tuple(_failures(checked)))


def _answer_json(drafts: DraftSet) -> str:
    return drafts.model_dump_json(include={"drafts"})


def _failures(checked: Sequence[CheckedDraft]) -> list[dict[str, Any]]:
    return [
        {"draft": number, "problems": [p.message for p in draft.problems]}
        for number, draft in enumerate(checked, start=1)
        if not draft.passes
    ]


def _merge(latest: _Attempt, first: _Attempt) -> list[CheckedDraft]:
    """Passing drafts first (the retry's, then the first attempt's), then failing ones of the
    retry: at most three, no text twice."""
    ordered = [d for d in latest.checked if d.passes]
    if latest is not first:
        ordered += [d for d in first.checked if d.passes]
    failing = latest.checked or first.checked  # an unreadable retry leaves the first's
    ordered += [d for d in failing if not d.passes]
    unique = {d.draft.text: d for d in reversed(ordered)}  # the first occurrence wins
    return [d for d in ordered if unique[d.draft.text] is d][:MAX_DRAFTS]
