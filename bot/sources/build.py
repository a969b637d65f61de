"""The sources an organisation has turned on, built from its file and the environment."""

from __future__ import annotations

import logging
from typing import Any

from bot.config import OrgConfig, Sources
from bot.sources import Source
from bot.sources.settings import SourceSettings, secret_text

log = logging.getLogger(__name__)


def build_sources(org: OrgConfig, settings: SourceSettings) -> list[Source]:
    """One source per network enabled in `org.sources` whose credentials are set; any other
    enabled network is left out with one log line that names the missing settings."""
    builders = {"x": _x, "mastodon": _mastodon, "bluesky": _bluesky}
    sources = []
    for name, builder in builders.items():
        if getattr(org.sources, name).enabled:
            source = builder(org.sources, settings)
            if source is not None:
                log.info("source %s is on", source.key)
                sources.append(source)
    return sources


def _missing(name: str, wanted: dict[str, Any]) -> bool:
    absent = [setting for setting, value in wanted.items() if not value]
    if absent:
        log.warning("source %s is enabled but skipped: %s not set", name, " and ".join(absent))
    return bool(absent)


def _x(sources: Sources, settings: SourceSettings) -> Source | None:
    token = secret_text(settings.x_bearer_token)
    if _missing("x", {"X_BEARER_TOKEN": token, "X_USER_ID": settings.x_user_id}):
        return None
    from bot.sources import x  # tweepy is loaded only where X is on

    log.info("source x:%s is the account @%s", settings.x_user_id, sources.x.account)
    return x.XSource(settings.x_user_id, x.make_client(token, settings.x_api_url))


def _mastodon(sources: Sources, settings: SourceSettings) -> Source | None:
    token = secret_text(settings.mastodon_access_token)
    if _missing("mastodon", {"MASTODON_ACCESS_TOKEN": token}):
        return None
    from bot.sources import mastodon

    account = sources.mastodon.account
    base_url = settings.mastodon_base_url or f"https://{account.partition('@')[2]}"
    return mastodon.MastodonSource(account, mastodon.make_client(base_url, token))


def _bluesky(sources: Sources, settings: SourceSettings) -> Source | None:
    password = secret_text(settings.bluesky_app_password)
    if _missing("bluesky", {"BLUESKY_APP_PASSWORD": password}):
        return None
    from bot.sources import bluesky

    handle = sources.bluesky.handle
    login = settings.bluesky_handle or handle
    return bluesky.BlueskySource(handle, login, password, bluesky.make_client())
