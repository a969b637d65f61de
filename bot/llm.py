"""The one module that talks to an LLM: OpenAI's Chat Completions API, or any server that speaks
it (vLLM, Ollama, llama.cpp) through OPENAI_BASE_URL.

Drafts are asked for with a strict JSON schema. Servers that refuse one get the request again
with JSON mode, and those that refuse that too with no response_format at all, the answer then
being dug out of whatever text comes back; the first form a server accepts is remembered.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openai import APIStatusError, OpenAI, OpenAIError
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from escalation.drafts import DRAFT_SET_SCHEMA, DraftSet

log = logging.getLogger(__name__)

UsageHook = Callable[[str, int, int, int], None]  # (model, prompt, cached, completion) tokens
RESPONSE_FORMATS: tuple[dict[str, Any] | None, ...] = (
    {
        "type": "json_schema",
        "json_schema": {"name": "reply_drafts", "strict": True, "schema": DRAFT_SET_SCHEMA},
    },
    {"type": "json_object"},
    None,
)
FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output", re.I)
FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
NO_KEY = "not-needed"  # local servers ignore the key, but the client insists on one


class LlmSettings(BaseSettings):
    """OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL, LLM_TIMEOUT_SECONDS and LLM_MAX_RETRIES.
    Without a key or a base URL, no LLM is used and drafts come from the guide's templates."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    openai_model: str = "gpt-4.1-mini"
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)

    @property
    def configured(self) -> bool:
        return bool(self.openai_base_url or self.api_key())

    def api_key(self) -> str:
        return self.openai_api_key.get_secret_value().strip() if self.openai_api_key else ""

    def secret_values(self) -> list[str]:
        """The key, so that logging can redact it."""
        return [key] if len(key := self.api_key()) >= 6 else []


class LlmError(RuntimeError):
    """No drafts from the LLM: unreachable, timed out, refused or rejected the request."""


class LlmOutputError(LlmError):
    """The LLM answered, but not with drafts we can read; `raw` is what it said."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True)
class Usage:
    """Tokens of one call. `cached` is the part of `prompt` the provider served from cache."""

    model: str
    prompt: int
    cached: int
    completion: int


class LlmClient:
    """Drafts from an OpenAI-compatible server, with the settings' timeout and retries."""

    def __init__(
        self,
        settings: LlmSettings,
        *,
        on_usage: UsageHook | None = None,
        client: OpenAI | None = None,
    ) -> None:
        self.model = settings.openai_model
        self.on_usage = on_usage
        self.usage: deque[Usage] = deque(maxlen=256)  # the latest calls, newest last
        self._format = 0  # index in RESPONSE_FORMATS: the first form the server accepted
        self._client = client or OpenAI(
            api_key=settings.api_key() or NO_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,  # connection errors, 408, 409, 429 and 5xx
        )

    @property
    def response_format(self) -> dict[str, Any] | None:
        """What the next call will ask for."""
        return RESPONSE_FORMATS[self._format]

    def draft(self, messages: Sequence[dict[str, str]]) -> DraftSet:
        """Drafts for a rendered prompt; LlmOutputError when the answer cannot be read."""
        return parse_drafts(self.complete(messages))

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The answer's text, stepping down the response formats the server refuses."""
        while True:
            try:
                response = self._client.chat.completions.create(**self._request(messages))
            except APIStatusError as error:
                if not self._step_down(error):
                    raise LlmError(f"the LLM server answered {error.status_code}") from error
                continue
            except OpenAIError as error:
                raise LlmError(f"the LLM server could not be reached: {error}") from error
            self._record(response)
            return _answer_text(response)

    def write(self, messages: Sequence[dict[str, str]]) -> str:
        """Free text, such as a crisis's closing summary: asked for without a response_format
        (the drafts' schema is for drafts only)."""
        try:
            response = self._client.chat.completions.create(model=self.model, messages=[*messages])
        except APIStatusError as error:
            raise LlmError(f"the LLM server answered {error.status_code}") from error
        except OpenAIError as error:
            raise LlmError(f"the LLM server could not be reached: {error}") from error
        self._record(response)
        return _answer_text(response)

    def _request(self, messages: Sequence[dict[str, str]]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if self.response_format is not None:
            request["response_format"] = self.response_format
        return request

    def _step_down(self, error: APIStatusError) -> bool:
        refused = error.status_code in (400, 422) and FORMAT_WORDS.search(_error_text(error))
        if not refused or self._format + 1 >= len(RESPONSE_FORMATS):
            return False
        self._format += 1
        log.warning("LLM server refused a response_format; now asking for %s", self._format_name())
        return True

    def _format_name(self) -> str:
        return (self.response_format or {}).get("type", "plain text")

    def _record(self, response: Any) -> None:
        usage = _usage(self.model, response)
        self.usage.append(usage)
        if self.on_usage is None:
            return
        try:
            self.on_usage(usage.model, usage.prompt, usage.cached, usage.completion)
        except Exception:  # metrics must never cost a draft
            log.exception("the usage hook failed")


def make_llm(settings: LlmSettings, on_usage: UsageHook | None = None) -> LlmClient | None:
    """A client when an LLM is configured, else None (the caller drafts from templates)."""
    return LlmClient(settings, on_usage=on_usage) if settings.configured else None


def _error_text(error: APIStatusError) -> str:
    return f"{error.message} {json.dumps(error.body, default=str)}"


def _usage(model: str, response: Any) -> Usage:
    usage = getattr(response, "usage", None)
    if usage is None:
        return Usage(model, 0, 0, 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(model, usage.prompt_tokens or 0, cached, usage.completion_tokens or 0)


def _answer_text(response: Any) -> str:
    if not response.choices:
        raise LlmOutputError("the LLM answered with no choices", raw="")
    choice = response.choices[0]
    if getattr(choice.message, "refusal", None):
        raise LlmError(f"the LLM refused: {choice.message.refusal}")
    text = choice.message.content or ""
    if choice.finish_reason == "length":
        raise LlmOutputError("the LLM's answer was cut short (length limit)", raw=text)
    return text


def parse_drafts(text: str) -> DraftSet:
    """Drafts from an answer: plain JSON, JSON in a code fence, or the outermost {...} in
    prose. The answer cannot label itself: the set is always marked as the LLM's."""
    data = _json_in(text)
    drafts = data.get("drafts") if isinstance(data, dict) else data
    try:
        return DraftSet(drafts=drafts, origin="llm")  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(e["msg"] for e in error.errors()[:3])
        raise LlmOutputError(f"the answer does not match the schema: {problems}", text) from error


def _json_in(text: str) -> Any:
    fenced = FENCED.search(text)
    start, end = text.find("{"), text.rfind("}")
    candidates = [text, fenced.group(1) if fenced else None]
    candidates.append(text[start : end + 1] if 0 <= start < end else None)
    for candidate in filter(None, candidates):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise LlmOutputError("the answer is not JSON", text)
