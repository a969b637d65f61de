"""The sources' credentials and pace, read from the environment (never the organisation file)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import PLACEHOLDERS


class SourceSettings(BaseSettings):
    """X_BEARER_TOKEN, X_USER_ID, MASTODON_BASE_URL, MASTODON_ACCESS_TOKEN, BLUESKY_HANDLE,
    BLUESKY_APP_PASSWORD and SOURCE_POLL_SECONDS; a network without its secrets stays off."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    x_bearer_token: SecretStr | None = None
    x_user_id: str | None = Field(default=None, pattern=r"^\d{1,20}$")
    # Default: https:// and the instance of the account in the organisation file.
    mastodon_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+/?$")
    mastodon_access_token: SecretStr | None = None
    # Default: the handle in the organisation file.
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    source_poll_seconds: float = Field(default=60.0, ge=1)

    def secret_values(self) -> list[str]:
        """Every secret of the sources, so that logging can redact them."""
        secrets = (self.x_bearer_token, self.mastodon_access_token, self.bluesky_app_password)
        return [value for s in secrets if len(value := secret_text(s)) >= 6]


def secret_text(value: SecretStr | None) -> str:
    """The secret, or "" when it is missing or still a placeholder."""
    raw = value.get_secret_value().strip() if value else ""
    return "" if raw.lower() in PLACEHOLDERS else raw
