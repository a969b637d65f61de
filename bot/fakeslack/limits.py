"""Slack's rate limits: a token bucket per channel for chat.postMessage, windows per method."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# Per-minute allowances by Slack tier (tier 2: 20, tier 3: 50, tier 4: 100). Methods Slack rates
# "special" (auth.test, chat.getPermalink) are left out: they are effectively unlimited.
DEFAULT_TIERS: dict[str, int] = {
    "conversations.create": 20,
    "conversations.archive": 20,
    "conversations.setTopic": 20,
    "users.list": 20,
    "usergroups.users.list": 20,
    "pins.add": 20,
    "chat.update": 50,
    "chat.delete": 50,
    "conversations.invite": 50,
    "conversations.open": 50,
    "conversations.join": 50,
    "conversations.info": 50,
    "conversations.history": 50,
    "conversations.replies": 50,
    "reactions.add": 50,
    "chat.postEphemeral": 100,
    "users.info": 100,
    "conversations.members": 100,
    "views.open": 100,
    "views.update": 100,
    "views.push": 100,
    "views.publish": 100,
    "files.getUploadURLExternal": 100,
    "files.completeUploadExternal": 100,
    "api.test": 100,
}


@dataclass
class Limits:
    """Numbers from SLACK.md; tests shrink or switch them off."""

    enabled: bool = True  # master switch for every rate limit below
    post_per_second_per_channel: float = 1.0
    post_burst_per_channel: int = 5
    workspace_posts_per_minute: int = 300
    tiers: bool = True
    tier_per_minute: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    window_seconds: float = 60.0  # length of a "minute", shrinkable for fast tests
    trigger_ttl_seconds: float = 3.0
    response_url_ttl_seconds: float = 30 * 60.0
    response_url_max_uses: int = 5
    max_text_chars: int = 40_000


def _retry_after(seconds: float) -> int:
    """Slack sends whole seconds and never 0, which clients would read as 'retry at once'."""
    return max(1, math.ceil(seconds))


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 60.0

    def take(self) -> None:
        self.tokens -= 1.0


class SlidingWindow:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.hits: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()
        if len(self.hits) < self.limit:
            return 0.0
        return self.hits[0] + self.seconds - now

    def take(self, now: float) -> None:
        self.hits.append(now)


class RateLimiter:
    """Decides whether a call fits Slack's limits; consumes allowance only for calls let through."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._windows: dict[str, SlidingWindow] = {}

    def check(self, method: str, channel: str | None = None) -> int | None:
        """None if the call may proceed, else the Retry-After seconds of a 429."""
        if not self.limits.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            if method == "chat.postMessage":
                return self._check_post(channel or "", now)
            return self._check_tier(method, now)

    def _window(self, key: str, limit: int) -> SlidingWindow:
        window = self._windows.get(key)
        if window is None or window.limit != limit:
            window = self._windows[key] = SlidingWindow(limit, self.limits.window_seconds)
        return window

    def _check_tier(self, method: str, now: float) -> int | None:
        limit = self.limits.tier_per_minute.get(method)
        if not self.limits.tiers or limit is None:
            return None
        window = self._window(method, limit)
        wait = window.wait_time(now)
        if wait > 0:
            return _retry_after(wait)
        window.take(now)
        return None

    def _check_post(self, channel: str, now: float) -> int | None:
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = TokenBucket(
                self.limits.post_per_second_per_channel, self.limits.post_burst_per_channel
            )
        workspace = self._window("workspace-posts", self.limits.workspace_posts_per_minute)
        wait = max(bucket.wait_time(now), workspace.wait_time(now))
        if wait > 0:
            return _retry_after(wait)
        bucket.take()
        workspace.take(now)
        return None

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._windows.clear()
