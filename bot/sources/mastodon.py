"""Mastodon: the account's mention notifications through Mastodon.py.

The only module that imports Mastodon.py. GET /api/v1/notifications?types[]=mention, newest
first; `since_id` (a notification id) from the cursor row, older pages through the Link header
until the cursor is reached. Mastodon.py is told to raise on a rate limit, never to sleep.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)

from bot.sources import Batch, RateLimited, SourceAuthError, SourceError
from bot.sources.mapping import (
    build,
    convert,
    display_name,
    html_to_text,
    is_newer,
    language,
    newest_id,
    parse_time,
    plain_text,
)
from escalation.mentions import NewMention, Source

log = logging.getLogger(__name__)

PAGE = 40  # Mastodon's largest page of notifications
MAX_PAGES = 10
REQUEST_TIMEOUT = 30.0


def make_client(base_url: str, access_token: str) -> Mastodon:
    """A client that raises MastodonRatelimitError on a 429 instead of sleeping until reset."""
    return Mastodon(
        access_token=access_token,
        api_base_url=base_url,
        ratelimit_method="throw",
        request_timeout=REQUEST_TIMEOUT,
        version_check_mode="none",
    )


class MastodonSource:
    """Mentions of one account, `user@instance`, read with that account's access token."""

    def __init__(self, account: str, api: Mastodon) -> None:
        self.key = f"mastodon:{account}"
        self.username, _, self.instance = account.partition("@")
        self.api = api

    def fetch(self, cursor: str | None) -> Batch:
        fresh = [n for n in self._notifications(cursor) if is_newer(str(n["id"]), cursor)]
        mentions = [
            mention
            for note in fresh
            if note.get("type") == "mention"
            and note.get("status")
            and not self._own(note)
            and (mention := convert(self.key, to_mention, note["status"], self.instance))
        ]
        return Batch(mentions, newest_id([str(n["id"]) for n in fresh], cursor))

    def _notifications(self, cursor: str | None) -> list[Any]:
        """Pages from the newest back to `cursor`; without one, only the newest (no backlog).

        Mastodon leaves since_id out of its "next" links, so paging stops by itself at the
        first page that reaches back to the cursor.
        """
        page = self._call(self.api.notifications, types=["mention"], since_id=cursor, limit=PAGE)
        found, pages = list(page or []), 1
        while cursor and page and pages < MAX_PAGES and getattr(page, "_pagination_next", None):
            if not all(is_newer(str(note["id"]), cursor) for note in page):
                break
            page = self._call(self.api.fetch_next, page)
            found, pages = found + list(page or []), pages + 1
        if pages == MAX_PAGES and getattr(page, "_pagination_next", None):
            log.warning("source %s: over %d pages of mentions, the oldest skipped", self.key, pages)
        return found

    def _own(self, note: Any) -> bool:
        acct = note["status"]["account"]["acct"]
        return acct in (self.username, f"{self.username}@{self.instance}")

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MastodonRatelimitError:
            raise RateLimited(_reset_time(self.api), "Mastodon: 429 Too Many Requests") from None
        except MastodonUnauthorizedError:
            message = "Mastodon: 401 Unauthorized, the access token was refused; check "
            raise SourceAuthError(message + "MASTODON_ACCESS_TOKEN") from None
        except MastodonAPIError as exc:
            raise _api_error(exc) from None
        except MastodonError as exc:
            raise SourceError(f"Mastodon: no answer ({type(exc).__name__})") from None


def _reset_time(api: Mastodon) -> datetime | None:
    """Mastodon.py has read X-RateLimit-Reset of the 429 (and set it on the local clock)."""
    reset = api.ratelimit_reset
    return datetime.fromtimestamp(reset, UTC) if isinstance(reset, int | float) else None


def _api_error(exc: MastodonAPIError) -> SourceError:
    # Mastodon.py's arguments: a sentence, the status code, the reason, the server's error.
    status, reason, error = (list(exc.args[1:4]) + [None, None, None])[:3]
    message = f"Mastodon: {status} {reason}: {' '.join(str(error or '').split())[:200]}"
    return SourceAuthError(message) if status == 403 else SourceError(message)


def to_mention(key: str, status: Any, instance: str) -> NewMention | None:
    """A status that mentions the account; `instance` completes the handles of local users."""
    account = status["account"]
    acct = account["acct"]
    text = html_to_text(status.get("content"))
    if spoiler := (status.get("spoiler_text") or "").strip():
        text = f"CW: {spoiler}\n\n{text}"
    return build(
        key,
        source=Source.MASTODON,
        external_id=str(status["id"]),
        url=status.get("url") or status.get("uri"),
        author={
            "handle": acct if "@" in acct else f"{acct}@{instance}",
            "display_name": display_name(account.get("display_name")),
            "followers": max(int(account.get("followers_count") or 0), 0),
            "verified": False,  # Mastodon verifies links on a profile, not people
        },
        text=plain_text(text),
        created_at=_time(status["created_at"]),
        in_reply_to=_id(status.get("in_reply_to_id")),
        lang=language(status.get("language")),
    )


def _time(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_time(value)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)
