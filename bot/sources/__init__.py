"""Sources: the brand's accounts on X, Mastodon and Bluesky, polled for mentions.

A source turns one network's API into `NewMention`s; the poller (bot/sources/poller.py) decides
when to ask, makes sure only one replica asks for an account at a time, stores what comes back
through the ingestor and keeps each account's place in the `source_cursors` table.

Wiring, on every replica (the lease keeps them from polling an account twice)::

    from bot.sources.build import build_sources
    from bot.sources.poller import Poller
    from bot.sources.settings import SourceSettings

    source_settings = SourceSettings()  # X_BEARER_TOKEN, MASTODON_ACCESS_TOKEN, ... from the env
    poller = Poller(
        sessions,
        build_sources(org, source_settings),  # enabled in the org file and with credentials
        ingestor.take,
        owner=replica_name,  # unique per replica, e.g. Settings.replica_name or host:pid
        interval=timedelta(seconds=source_settings.source_poll_seconds),
    )
    scheduler.add_job(lambda: poller.poll_due(clock()), "interval",
                      seconds=source_settings.source_poll_seconds, max_instances=1)

`poll_due` never raises for one bad source: it returns an `Outcome` per source key and logs
failures once. Pass `source_settings.secret_values()` to `configure_logging` with the others so
that no token can reach the logs. Network libraries are imported only by the modules of their
network (x.py: tweepy, mastodon.py: Mastodon.py, bluesky.py: atproto), and only when the
network is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from escalation.mentions import NewMention


@dataclass(frozen=True)
class Batch:
    """What one fetch found, and where the next fetch should start once these are stored."""

    mentions: list[NewMention] = field(default_factory=list)
    cursor: str | None = None


class SourceError(Exception):
    """A fetch failed; the message is safe to log and store (it names no secret)."""


class RateLimited(SourceError):
    """The network asked us to wait until `resume_at` (None: it did not say how long)."""

    def __init__(self, resume_at: datetime | None, message: str = "rate limited") -> None:
        super().__init__(message)
        self.resume_at = resume_at


class SourceAuthError(SourceError):
    """The network refused our credentials; polling waits for a while before trying again."""


class Source(Protocol):
    """One account on one network. `key` names its `source_cursors` row, e.g. "x:1234567"."""

    key: str

    def fetch(self, cursor: str | None) -> Batch:
        """Mentions newer than `cursor` (None: the first poll) and the cursor after them.

        Raises RateLimited, SourceAuthError or SourceError; anything else is a bug.
        """
        ...
