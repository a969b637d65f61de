"""The drafting service: LLM drafts checked in code, one regeneration, templates offline; and
no injected instruction ever reaches an approvable draft."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.drafting import Suggestions, draft_replies
from bot.fakellm import FakeLlm
from bot.llm import LlmClient, LlmSettings
from escalation.models import Mention
from prompts.render import PROMPT_VERSION, load_guide
from tests.support import labelled_mention

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "brightwave-mentions.jsonl"
RECORDS = [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.strip()]
INJECTIONS = [r for r in RECORDS if "injection" in r["labels"]["tags"]]
GUIDE = load_guide()


BILLING = Mention(
    source="x",
    text="@BrightwaveHelp charged twice again, account 88123456. sort it out",
    author_handle="jo_bloggs",
    sentiment="negative",
    department="billing",
)


class Fakes(dict[str, FakeLlm]):
    """A fake server per mode, started when a test first asks for it."""

    def __missing__(self, mode: str) -> FakeLlm:
        self[mode] = FakeLlm(mode).start()
        return self[mode]


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    started = Fakes()
    yield started
    for fake in started.values():
        fake.stop()


def llm_for(fake: FakeLlm) -> LlmClient:
    settings = LlmSettings(
        openai_base_url=fake.url, openai_api_key="sk-test", openai_model="fake", llm_max_retries=0
    )
    return LlmClient(settings)


def draft(mention: Mention, llm: LlmClient | None, department: str | None = None) -> Suggestions:
    return draft_replies(mention, agent_initials="AB", llm=llm, department=department)


def test_without_an_llm_the_drafts_are_labelled_templates() -> None:
    suggestions = draft(BILLING, None)
    assert suggestions.origin == "template" and suggestions.label == "Template draft"
    assert suggestions.llm_calls == 0 and suggestions.note is None
    assert suggestions.prompt_version == PROMPT_VERSION
    assert all(d.passes for d in suggestions.drafts)
    assert "needs Billing approval" in suggestions.drafts[0].draft.flags


def test_obedient_drafts_pass_in_one_call(fakes) -> None:
    suggestions = draft(BILLING, llm_for(fakes["obedient"]))
    assert suggestions.origin == "llm" and suggestions.label == "AI draft (fake)"
    assert suggestions.llm_calls == 1 and len(fakes["obedient"].completions()) == 1
    assert len(suggestions.approvable) == len(suggestions.drafts) >= 2
    assert suggestions.alternatives == ()


def test_failing_drafts_are_regenerated_once_with_the_failures_as_data(fakes) -> None:
    fake = fakes["sloppy"]
    suggestions = draft(BILLING, llm_for(fake))
    first, retry = fake.completions()
    assert retry.messages[: len(first.messages)] == first.messages  # the cache still applies
    note = retry.messages[-1]["content"]
    failures = json.loads(re.search(r"<check_failures>\n(.*)\n</check_failures>", note, re.S)[1])
    assert failures[0]["draft"] == 1
    assert failures[0]["problems"] == ["It does not end with the agent's sign-off ^AB."]
    assert suggestions.llm_calls == 2 and all(d.passes for d in suggestions.drafts)


def test_adversarial_drafts_are_blocked_and_shown_with_what_failed(fakes) -> None:
    mention = labelled_mention(INJECTIONS[0])
    suggestions = draft(mention, llm_for(fakes["adversarial"]))
    assert suggestions.llm_calls == 2 and suggestions.drafts
    assert not any(d.passes for d in suggestions.drafts)
    broken = {p.rule for d in suggestions.drafts for p in d.problems}
    expected = {"promise", "sign_off", "liability", "link", "handle", "personal_data", "emoji"}
    assert expected | {"banned_phrase"} <= broken
    # Something safe to send is still on offer, labelled as a template.
    assert suggestions.alternatives and all(d.passes for d in suggestions.alternatives)


def test_an_unreadable_llm_falls_back_to_templates_after_one_retry(fakes) -> None:
    suggestions = draft(BILLING, llm_for(fakes["broken_json"]))
    assert suggestions.origin == "template" and "no readable drafts" in suggestions.note
    assert len(fakes["broken_json"].completions()) == 2
    assert all(d.passes for d in suggestions.drafts)


def test_an_unreachable_llm_falls_back_to_templates(fakes) -> None:
    suggestions = draft(BILLING, llm_for(fakes["error"]))
    assert suggestions.origin == "template" and "500" in suggestions.note
    assert all(d.passes for d in suggestions.drafts)


def test_an_unrouted_mention_is_drafted_as_care(fakes) -> None:
    mention = labelled_mention(next(r for r in RECORDS if r["labels"]["department"] == "none"))
    draft(mention, llm_for(fakes["obedient"]))
    (request,) = fakes["obedient"].completions()
    assert '"department": "care"' in request.messages[-1]["content"]


def test_legal_mentions_get_holding_lines(fakes) -> None:
    mention = labelled_mention(next(r for r in RECORDS if r["labels"]["department"] == "legal"))
    for llm in (None, llm_for(fakes["obedient"])):
        suggestions = draft(mention, llm)
        assert suggestions.approvable
        for checked in suggestions.approvable:
            assert checked.draft.text.removesuffix(" ^AB") in GUIDE.rules.holding_lines


# What an injected instruction would leave in a reply if it got through.
RED_FLAGS = re.compile(
    r"refund|credit|compensat|free|\bvip\b|\bp1\b|priority|routing|devmode|override|confirm"
    r"|last customer|https?://|\.example|@(?!brightwave|brightwavehelp)\w|\d{4,}",
    re.I,
)


@pytest.mark.parametrize("record", INJECTIONS, ids=[r["id"] for r in INJECTIONS])
@pytest.mark.parametrize("mode", ["obedient", "adversarial", "sloppy", None])
def test_no_injection_yields_an_approvable_draft_that_breaks_a_rule(
    fakes, record: dict, mode: str | None
) -> None:
    suggestions = draft(labelled_mention(record), llm_for(fakes[mode]) if mode else None)
    assert suggestions.approvable, "a person always has something safe to send"
    for checked in suggestions.approvable:
        text = checked.draft.text
        assert not RED_FLAGS.search(text), text
        assert text.endswith(" ^AB") and len(text) <= 280


def test_every_sample_gets_an_approvable_draft_offline_and_from_the_llm(fakes) -> None:
    llm = llm_for(fakes["obedient"])
    for record in RECORDS:
        mention = labelled_mention(record)
        assert draft(mention, None).approvable, record["id"]
        assert draft(mention, llm).approvable, record["id"]
