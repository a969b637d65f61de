"""The reply desk: drafts for a case (LLM or templates) and the networks the bot may post on.

Drafting and posting are slow and talk to the outside world, so Slack listeners call them
outside any database transaction; what they produce is recorded by escalation.replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.drafting import Suggestions, draft_replies
from bot.llm import LlmClient, LlmSettings, make_llm
from bot.metrics import Metrics
from bot.sources.settings import SourceSettings
from bot.sources.x import PostRefused, PostUncertain, XPublisher
from escalation.mentions import Source
from escalation.models import Mention
from escalation.people import Actor
from prompts.render import Guide, load_guide

__all__ = ["PostRefused", "PostUncertain", "Publisher", "ReplyDesk"]


class Publisher(Protocol):
    def reply(self, text: str, in_reply_to: str) -> tuple[str, str]:
        """Post `text` in reply to the post `in_reply_to`: (the new post's id, its address).
        Raises PostRefused (nothing is out) or PostUncertain (it may be)."""


@dataclass(frozen=True)
class ReplyDesk:
    guide: Guide
    llm: LlmClient | None = None
    publishers: Mapping[str, Publisher] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, metrics: Metrics | None = None) -> ReplyDesk:
        """The LLM when OPENAI_* is set, X posting when the account's user keys are."""
        on_usage = metrics.llm_usage if metrics else None
        publishers: dict[str, Publisher] = {}
        sources = SourceSettings()
        if keys := sources.x_user_context():
            publishers[Source.X] = XPublisher.with_user_context(keys, sources.x_api_url)
        return cls(load_guide(), make_llm(LlmSettings(), on_usage), publishers)

    def suggest(self, mention: Mention, actor: Actor, department: str | None) -> Suggestions:
        return draft_replies(
            mention,
            agent_initials=actor.initials,
            llm=self.llm,
            guide=self.guide,
            department=department,
        )

    def can_post(self, source: str) -> bool:
        return source in self.publishers

    def post(self, source: str, text: str, in_reply_to: str) -> tuple[str, str]:
        return self.publishers[source].reply(text, in_reply_to)
