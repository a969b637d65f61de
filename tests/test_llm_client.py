"""The LLM client, through the real openai package, against the fake server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from bot.fakellm import FakeLlm
from bot.llm import (
    LlmClient,
    LlmError,
    LlmOutputError,
    LlmSettings,
    make_llm,
    parse_drafts,
)
from escalation.drafts import DRAFT_SET_SCHEMA
from escalation.models import Mention
from prompts.render import load_guide, render_draft_prompt

GUIDE = load_guide()
KEY = "sk-test-0123456789"


@pytest.fixture
def fake_llm() -> Iterator[Callable[..., FakeLlm]]:
    started: list[FakeLlm] = []

    def start(mode: str = "obedient", **options: object) -> FakeLlm:
        started.append(FakeLlm(mode, **options).start())
        return started[-1]

    yield start
    for fake in started:
        fake.stop()


def client(fake: FakeLlm, on_usage=None, **settings: object) -> LlmClient:
    values = {
        "openai_base_url": fake.url,
        "openai_api_key": KEY,
        "openai_model": "fake-model",
        "llm_timeout_seconds": 5,
        "llm_max_retries": 0,
    }
    return LlmClient(LlmSettings(**(values | settings)), on_usage=on_usage)


def prompt(text: str = "@BrightwaveHelp my hub keeps dropping", department: str = "care"):
    mention = Mention(source="x", text=text, author_handle="jo_bloggs", sentiment="negative")
    return render_draft_prompt(GUIDE, mention, department=department, agent_initials="AB")


def test_the_request_carries_the_prompt_the_model_and_a_strict_schema(fake_llm) -> None:
    fake = fake_llm(api_key=KEY)
    drafts = client(fake).draft(prompt())
    assert 2 <= len(drafts.drafts) <= 3 and drafts.origin == "llm"
    (request,) = fake.completions()
    assert request.model == "fake-model"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert GUIDE.voice in request.content("system")
    assert request.messages[-1]["content"].endswith("</untrusted_mention>")
    schema = request.response_format
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["schema"] == DRAFT_SET_SCHEMA


def test_a_server_without_json_schema_gets_json_mode_and_it_sticks(fake_llm) -> None:
    fake = fake_llm("no_schema")
    llm = client(fake)
    llm.draft(prompt("first"))
    llm.draft(prompt("second"))
    kinds = [r.response_format["type"] for r in fake.completions()]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_a_server_without_response_format_gets_plain_text_and_prose_is_read(fake_llm) -> None:
    fake = fake_llm("no_format")
    drafts = client(fake).draft(prompt())
    assert drafts.drafts[0].text.endswith("^AB")
    formats = [r.response_format for r in fake.completions()]
    assert [(f or {}).get("type") for f in formats] == ["json_schema", "json_object", None]


def test_json_in_a_code_fence_is_read(fake_llm) -> None:
    assert client(fake_llm("fenced")).draft(prompt()).drafts


def test_broken_json_is_an_output_error_with_what_was_said(fake_llm) -> None:
    with pytest.raises(LlmOutputError) as error:
        client(fake_llm("broken_json")).draft(prompt())
    assert error.value.raw.startswith("Sure! Here are your drafts")


def test_usage_is_recorded_per_call_with_cached_tokens(fake_llm) -> None:
    seen: list[tuple] = []
    llm = client(fake_llm(), on_usage=lambda *usage: seen.append(usage))
    llm.draft(prompt("@BrightwaveHelp my hub keeps dropping"))
    llm.draft(prompt("Charged twice this month, account 991234", "billing"))
    (model, prompt1, cached1, completion1), (_, prompt2, cached2, _) = seen
    assert model == "fake-model" and cached1 == 0 and prompt1 > 1000 and completion1 > 0
    assert cached2 / prompt2 >= 0.8
    assert [u.cached for u in llm.usage] == [cached1, cached2]


def test_a_failing_usage_hook_costs_no_draft(fake_llm) -> None:
    def broken(*_usage: object) -> None:
        raise RuntimeError("metrics down")

    assert client(fake_llm(), on_usage=broken).draft(prompt()).drafts


def test_server_errors_are_retried_by_the_client_then_reported(fake_llm) -> None:
    fake = fake_llm("error")
    with pytest.raises(LlmError, match="500"):
        client(fake, llm_max_retries=1).draft(prompt())
    assert len(fake.completions()) == 2


def test_a_slow_server_times_out(fake_llm) -> None:
    fake = fake_llm("slow", delay=1.5)
    started = time.monotonic()
    with pytest.raises(LlmError, match="could not be reached"):
        client(fake, llm_timeout_seconds=0.2).draft(prompt())
    assert time.monotonic() - started < 1.2


def test_a_wrong_key_is_an_error_not_a_fallback(fake_llm) -> None:
    fake = fake_llm(api_key="sk-the-right-one")
    with pytest.raises(LlmError, match="401"):
        client(fake).draft(prompt())
    assert len(fake.completions()) == 1


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert not LlmSettings().configured and make_llm(LlmSettings()) is None
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("OPENAI_MODEL", "llama3.1")
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "7.5")
    monkeypatch.setenv("LLM_MAX_RETRIES", "4")
    settings = LlmSettings()
    assert settings.configured and settings.api_key() == ""
    assert (settings.openai_model, settings.llm_timeout_seconds, settings.llm_max_retries) == (
        "llama3.1",
        7.5,
        4,
    )
    assert isinstance(make_llm(settings), LlmClient)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert KEY not in repr(LlmSettings()) and LlmSettings().secret_values() == [KEY]


def test_a_local_server_needs_no_key(fake_llm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake = fake_llm()
    settings = LlmSettings(openai_base_url=fake.url, llm_max_retries=0)
    assert LlmClient(settings).draft(prompt()).drafts


def test_parsing_keeps_three_drafts_and_never_trusts_a_label() -> None:
    text = json.dumps({"origin": "template", "drafts": [{"text": "Hi ^AB"}] * 4})
    drafts = parse_drafts(text)
    assert len(drafts.drafts) == 3 and drafts.origin == "llm"
    assert parse_drafts('[{"text": "Hi ^AB", "tone": "warm"}]').drafts[0].tone == "warm"
    for wrong in ('{"drafts": []}', '{"drafts": [{"tone": "warm"}]}', "no json here"):
        with pytest.raises(LlmOutputError):
            parse_drafts(wrong)
