"""Bluesky: mentions, replies and quotes of the account through atproto, with an app password.

The only module that imports atproto. One session per process (createSession is limited to
30 an account in 5 minutes), refreshed by atproto; app.bsky.notification.listNotifications,
newest first, back to the newest indexedAt already taken, which is the cursor kept in the row;
the authors' followers and verification through app.bsky.actor.getProfiles, 25 at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from atproto import Client, exceptions, models

from bot.sources import Batch, RateLimited, SourceAuthError, SourceError
from bot.sources.mapping import build, convert, display_name, language, parse_time, plain_text
from escalation.mentions import NewMention, Source

log = logging.getLogger(__name__)

REASONS = ["mention", "reply", "quote"]
PAGE = 50
MAX_PAGES = 10
PROFILES_PER_CALL = 25  # app.bsky.actor.getProfiles takes at most 25 actors
STALE_SESSION = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


def make_client(base_url: str | None = None) -> Client:
    """A client for the account's PDS (bsky.social by default; login moves it to the PDS)."""
    return Client(base_url)


class BlueskySource:
    """Mentions of the account `handle`; `login` (its handle or email) signs in with
    `app_password`, which belongs to the same account."""

    def __init__(self, handle: str, login: str, app_password: str, client: Client) -> None:
        self.key = f"bluesky:{handle}"
        self.handle, self.client = handle, client
        self._login, self._password = login, app_password
        self._signed_in = False

    def fetch(self, cursor: str | None) -> Batch:
        self._sign_in()
        since = parse_time(cursor) if cursor else None
        newer = [n for n in self._notifications(since) if _newer(n, since)]
        posts = [n for n in newer if n.reason in REASONS and n.author.handle != self.handle]
        profiles = self._profiles(sorted({n.author.did for n in posts}))
        mentions = [
            mention
            for note in posts
            if (mention := convert(self.key, to_mention, note, profiles.get(note.author.did)))
        ]
        return Batch(mentions, _newest(newer, cursor))

    def _sign_in(self) -> None:
        if not self._signed_in:
            self._call(self.client.login, self._login, self._password, fetch_bsky_profile=False)
            self._signed_in = True

    def _notifications(self, since: datetime | None) -> list[Any]:
        """Pages from the newest back to `since`; without it, only the newest (no backlog)."""
        params: dict[str, Any] = {"reasons": REASONS, "limit": PAGE}
        page = self._call(self.client.app.bsky.notification.list_notifications, params)
        found, pages = list(page.notifications), 1
        while since and page.cursor and page.notifications and pages < MAX_PAGES:
            if not all(_newer(note, since) for note in page.notifications):
                break
            params = params | {"cursor": page.cursor}
            page = self._call(self.client.app.bsky.notification.list_notifications, params)
            found, pages = found + list(page.notifications), pages + 1
        if pages == MAX_PAGES and page.cursor:
            log.warning("source %s: over %d pages of mentions, the oldest skipped", self.key, pages)
        return found

    def _profiles(self, dids: list[str]) -> dict[str, Any]:
        profiles: dict[str, Any] = {}
        for start in range(0, len(dids), PROFILES_PER_CALL):
            params = {"actors": dids[start : start + PROFILES_PER_CALL]}
            answer = self._call(self.client.app.bsky.actor.get_profiles, params)
            profiles |= {profile.did: profile for profile in answer.profiles}
        return profiles

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except exceptions.RateLimitExceededError as exc:
            raise RateLimited(exc.reset_at, "Bluesky: 429 Too Many Requests") from None
        except exceptions.UnauthorizedError as exc:
            self._signed_in = False
            raise SourceAuthError(_refused(exc)) from None
        except exceptions.RequestErrorBase as exc:
            if _error_name(exc) in STALE_SESSION:  # sign in afresh on the next poll
                self._signed_in = False
            raise SourceError(f"Bluesky: {_status(exc)} {_error_name(exc)}".strip()) from None
        except exceptions.AtProtocolError as exc:
            raise SourceError(f"Bluesky: no usable answer ({type(exc).__name__})") from None


def _refused(exc: exceptions.RequestErrorBase) -> str:
    error = _error_name(exc) or "Unauthorized"
    return (
        f"Bluesky: {_status(exc)} {error}, the handle or app password was refused; "
        "check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
    )


def _status(exc: exceptions.RequestErrorBase) -> str:
    return str(exc.response.status_code) if exc.response is not None else "no response"


def _error_name(exc: exceptions.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    return str(getattr(content, "error", "") or "")[:80]


def _newer(note: Any, since: datetime | None) -> bool:
    return since is None or parse_time(note.indexed_at) > since


def _newest(notes: list[Any], cursor: str | None) -> str | None:
    stamps = [note.indexed_at for note in notes] + ([cursor] if cursor else [])
    return max(stamps, key=parse_time) if stamps else None


def to_mention(key: str, note: Any, profile: Any | None) -> NewMention | None:
    """One notification about a post (mention, reply or quote) and its author's profile."""
    record = models.get_model_as_dict(note.record)
    author = note.author
    handle = author.did if author.handle == "handle.invalid" else author.handle
    reply = record.get("reply") or {}
    return build(
        key,
        source=Source.BLUESKY,
        external_id=note.uri,
        url=f"https://bsky.app/profile/{handle}/post/{note.uri.rsplit('/', 1)[-1]}",
        author={
            "handle": handle,
            "display_name": display_name(author.display_name),
            "followers": max(int(getattr(profile, "followers_count", 0) or 0), 0),
            "verified": _verified(profile or author),
        },
        text=plain_text(record.get("text")),
        created_at=_created_at(record, note),
        conversation_id=(reply.get("root") or {}).get("uri") or note.uri,
        in_reply_to=(reply.get("parent") or {}).get("uri"),
        lang=language((record.get("langs") or [None])[0]),
    )


def _verified(profile: Any) -> bool:
    state = getattr(profile, "verification", None)
    return getattr(state, "verified_status", None) == "valid"


def _created_at(record: dict, note: Any) -> datetime:
    """The post's own time; indexedAt when the client wrote none we can read."""
    try:
        return parse_time(record["createdAt"])
    except (KeyError, TypeError, ValueError):
        return parse_time(note.indexed_at)
