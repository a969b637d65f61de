"""Injected failures: the fake can be told to be slow, rate limited, down or rude."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

# Shaped like the pages Slack's load balancers answer with when the API is unwell; clients
# must cope with a body that is not JSON.
_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Slack</title></head>
<body><h1>{status} {reason}</h1>
<p>Slack is having trouble right now. Please try again in a moment.</p></body></html>
"""

_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    method: str
    status: int | None = 503
    times: int | None = None
    until: float | None = None
    retry_after: int | None = None
    delay: float | None = None
    reset: bool = False
    body: str | dict[str, Any] | None = None

    def matches(self, method: str, now: float) -> bool:
        if self.method not in ("*", method):
            return False
        return self.until is None or now < self.until

    def expired(self, now: float) -> bool:
        out_of_uses = self.times is not None and self.times <= 0
        return out_of_uses or (self.until is not None and now >= self.until)

    @property
    def passes_through(self) -> bool:
        """A fault that only slows the call down and then lets the real method answer."""
        return not self.reset and self.status in (None, 200) and self.body is None


@dataclass
class FaultResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


class FaultBook:
    """Thread-safe list of active faults; the newest matching fault wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str) -> Fault | None:
        """The fault that applies to this call, using up one of its `times`."""
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if not f.expired(now)]
            for fault in reversed(self._faults):
                if fault.matches(method, now):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None


def render(fault: Fault) -> FaultResponse:
    """What an injected (non pass-through) fault answers."""
    status = fault.status or 200
    if isinstance(fault.body, dict):
        return _json(status, fault.body, {})
    if isinstance(fault.body, str):
        kind = "text/html" if fault.body.lstrip().startswith("<") else "text/plain"
        return FaultResponse(status, fault.body.encode(), f"{kind}; charset=utf-8", {})
    if status == 429:
        headers = {"Retry-After": str(max(1, fault.retry_after or 1))}
        return _json(429, {"ok": False, "error": "ratelimited"}, headers)
    if status >= 500:
        page = _ERROR_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
        return FaultResponse(status, page.encode(), "text/html; charset=utf-8", {})
    return _json(status, {"ok": False, "error": "fake_injected_error"}, {})


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> FaultResponse:
    data = json.dumps(body).encode()
    return FaultResponse(status, data, "application/json; charset=utf-8", headers)
