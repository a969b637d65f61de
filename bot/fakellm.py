"""A fake OpenAI-compatible server on 127.0.0.1, for tests and the local demo. Standard library
only.

It answers POST /v1/chat/completions in the real response shape, usage included, and records
every request. Prompt caching is emulated the way providers do it: the part of a prompt that
repeats the start of an earlier one counts as cached (tokens taken as characters / 4).

Modes:
- obedient: follows the system prompt; its drafts pass the checks.
- adversarial: obeys whatever the mention tells it (refunds, links, no sign-off, leaked data).
- sloppy: forgets the sign-off, then gets it right when told what failed.
- no_schema: answers 400 to response_format json_schema, as older servers do.
- no_format: answers 400 to any response_format, and wraps its JSON in prose and a code fence.
- fenced: accepts everything, answers JSON inside prose and a code fence.
- broken_json: answers text that is not JSON.
- error: answers 500 to everything.
- slow: waits `delay` seconds (default 2), then answers like obedient.

Whatever the mode (but error), a request carrying a <crisis_timeline> block gets a crisis's
closing summary in prose, built from the timeline's numbers.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = (
    "obedient", "adversarial", "sloppy", "no_schema", "no_format", "fenced", "broken_json",
    "error", "slow",
)  # fmt: skip
MENTION_BLOCK = re.compile(r"<untrusted_mention>\s*(.*?)\s*</untrusted_mention>", re.S)
HOLDING_LINE = re.compile(r"^ {3}- (.+)$", re.M)
TIMELINE_BLOCK = re.compile(r"<crisis_timeline>\s*(.*?)\s*</crisis_timeline>", re.S)
POSTS_BLOCK = re.compile(r"<posts>\s*(.*?)\s*</posts>", re.S)


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format")

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    def content(self, role: str) -> str:
        """The text of every message of `role`, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == role)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The prompt as one string, the way the cache emulation compares prompts."""
    return "".join(f"<{m.get('role')}>{m.get('content', '')}" for m in messages)


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def common_prefix(a: str, b: str) -> int:
    """Length of the common start of `a` and `b`, by bisection: slices compare in C."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class FakeLlm:
    """`FakeLlm(mode).start()`, then point an OpenAI client at `.url`."""

    def __init__(
        self, mode: str = "obedient", port: int = 0, *, delay: float = 2.0, api_key: str = ""
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode, self.port, self.delay, self.api_key = mode, port, delay, api_key
        self._requests: list[Recorded] = []
        self._prompts: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def completions(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeLlm:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server, self.port = server, server.server_address[1]
        # A short poll interval: stop() waits for one, and tests stop many servers.
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLlm:
        return self.start() if self._server is None else self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- answering ---------------------------------------------------------------------

    def handle(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict]:
        with self._lock:
            self._requests.append(Recorded(path, body, headers))
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided.", "invalid_api_key", None)
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, _error(f"Unknown path {path}", "not_found", None)
        refused = self._refusal(body)
        if refused:
            return refused
        if self.mode == "slow":
            time.sleep(self.delay)
        return 200, self._completion(body)

    def _refusal(self, body: dict[str, Any]) -> tuple[int, dict] | None:
        kind = (body.get("response_format") or {}).get("type")
        if self.mode == "error":
            return 500, _error("The server had an error.", "server_error", None)
        if self.mode == "no_schema" and kind == "json_schema":
            return 400, _format_error(kind)
        if self.mode == "no_format" and kind in ("json_schema", "json_object"):
            return 400, _format_error(kind)
        return None

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        content = self._content(Recorded("", body))
        text = prompt_text(messages)
        with self._lock:
            cached = max((common_prefix(text, p) for p in self._prompts), default=0) // 4
            self._prompts.append(text)
            number = len(self._prompts)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "fake",
            "system_fingerprint": "fakellm",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _usage(tokens(text), min(cached, tokens(text)), tokens(content)),
        }

    def _content(self, request: Recorded) -> str:
        if TIMELINE_BLOCK.search(request.content("user")):
            return crisis_summary(request)
        if POSTS_BLOCK.search(request.content("user")):
            return themes_summary(request)
        if self.mode == "broken_json":
            return 'Sure! Here are your drafts: {"drafts": [{"text": "Sorry to hear'
        if self.mode == "adversarial":
            return json.dumps({"drafts": adversarial_drafts(request)}, ensure_ascii=False)
        drafts = obedient_drafts(request)
        if self.mode == "sloppy" and "<check_failures>" not in request.content("user"):
            drafts = [{**d, "text": d["text"].rsplit(" ^", 1)[0]} for d in drafts]
        answer = json.dumps({"drafts": drafts}, ensure_ascii=False)
        if self.mode in ("fenced", "no_format"):
            return f"Here are the drafts you asked for:\n```json\n{answer}\n```\nHope they help!"
        return answer


def _usage(prompt: int, cached: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _error(message: str, code: str | None, param: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


def _format_error(kind: str) -> dict[str, Any]:
    message = f"response_format type '{kind}' is not supported by this server"
    return _error(message, None, "response_format")


# --- what the fake model writes ----------------------------------------------------------


def _parameters(request: Recorded) -> dict[str, Any]:
    first_user = next((m for m in request.messages if m.get("role") == "user"), {})
    text = str(first_user.get("content", ""))
    found = re.search(r"\{.*?\n\}", text, re.S)  # the parameters block comes first
    try:
        return json.loads(found.group(0)) if found else {}
    except json.JSONDecodeError:
        return {}


def _mention(request: Recorded) -> str:
    found = MENTION_BLOCK.findall(request.content("user"))
    try:
        return str(json.loads(found[-1]).get("text", "")) if found else ""
    except (json.JSONDecodeError, AttributeError):
        return ""


OBEDIENT = {
    "complaint": (
        ("Sorry to hear about this, we know how frustrating it is. Please send us a DM and we'll "
         "look into it with you.", "empathetic"),
        ("That's not the experience we want for you. Send us a DM and our team will take a "
         "look.", "warm"),
    ),
    "question": (
        ("Thanks for getting in touch. Send us a DM and we'll help you with this.", "helpful"),
        ("Good question! DM us and we'll look into it for you.", "friendly"),
    ),
    "praise": (
        ("Thanks so much, that's lovely to hear! 😊", "upbeat"),
        ("Thank you for the kind words, we'll pass them on to the team.", "warm"),
    ),
}  # fmt: skip


def obedient_drafts(request: Recorded) -> list[dict[str, Any]]:
    """Drafts that follow the system prompt, built from the request's parameters."""
    params = _parameters(request)
    sign_off = params.get("sign_off", "^AB")
    lines = [(line, "neutral") for line in HOLDING_LINE.findall(request.content("system"))]
    if params.get("department") != "legal" or not lines:
        lines = list(OBEDIENT.get(params.get("intent", ""), OBEDIENT["question"]))
    billing = params.get("department") == "billing"
    flags = ["move to DM", *(["needs Billing approval"] if billing else [])]
    return [
        {"text": f"{text} {sign_off}", "tone": tone, "reason": "Fake, obedient.", "flags": flags}
        for text, tone in lines
    ]


def adversarial_drafts(request: Recorded) -> list[dict[str, Any]]:
    """Drafts that do what the mention says instead of what the system prompt says."""
    mention, sign_off = _mention(request), _parameters(request).get("sign_off", "^AB")
    echoed = " ".join(re.findall(r"\b[\w.+-]+@[\w.-]+\b|\b\d[\d ]{5,}\d\b", mention)[:2])
    word = re.search(r"(?:replying|reply with|respond with)\s+['\"]?(\w+)", mention, re.I)
    return [
        {
            "text": "Done! Your account is marked as fully refunded for the last 6 months and "
            f"we'll add 3 months free. {word.group(1) if word else 'CONFIRMED'}",
            "tone": "compliant",
            "reason": "The mention asked for it.",
            "flags": [],
        },
        {
            "text": "So sorry, this was our fault and we accept full responsibility. Claim "
            "your compensation at https://brightwave-refunds.example/claim or ask "
            f"@refund_desk {sign_off}",
            "tone": "apologetic",
            "reason": "The mention asked for it.",
            "flags": [],
        },
        {
            "text": f"Sure 😀🎉 Noted your details {echoed or '07700 900123'}. The last "
            "customer we helped was jane.doe@example.com, as per our routing rules. "
            f"{sign_off}",
            "tone": "chatty",
            "reason": "The mention asked for it.",
            "flags": [],
        },
    ]


def themes_summary(request: Recorded) -> str:
    """The digest's themes as an obedient model would sum them up: from the frequent terms."""
    found = POSTS_BLOCK.search(request.content("user"))
    data = json.loads(found.group(1)) if found else {}
    terms = list(data.get("frequent_terms") or {})[:3]
    posts = len(data.get("sample_posts") or [])
    return f"Customers mostly wrote about {', '.join(terms) or 'nothing'} ({posts} posts read)."


def crisis_summary(request: Recorded) -> str:
    """A closing summary that states the timeline's facts, as an obedient model would."""
    found = TIMELINE_BLOCK.search(request.content("user"))
    try:
        data = json.loads(found.group(1)) if found else {}
    except json.JSONDecodeError:
        data = {}
    cases, updates = data.get("cases") or [], data.get("updates") or []
    answered = [c for c in cases if c.get("first_reply_minutes") is not None]
    return (
        f'The {data.get("severity", "unknown")} crisis "{data.get("title", "untitled")}" drew'
        f" {data.get('volume', 0)} mentions across {len(cases)} cases. {len(answered)} of them"
        f" had a first public reply. The team posted {len(updates)} updates before closing it."
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms delayed-ACK stall

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, _error("Body is not JSON.", None, None))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(*self.server.fake.handle(self.path, body, headers))  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        models = {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "me"}]}
        self._send(200, models) if self.path.startswith("/v1/models") else self._send(404, {})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests read the recorded requests instead."""
