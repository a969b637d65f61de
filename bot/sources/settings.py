"""The sources' credentials and pace, read from the environment (never the organisation file)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import PLACEHOLDERS


class SourceSettings(BaseSettings):
    """X_BEARER_TOKEN, X_USER_ID, X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN,
    X_ACCESS_TOKEN_SECRET, X_API_URL (a proxy in front of X), MASTODON_BASE_URL,
    MASTODON_ACCESS_TOKEN, BLUESKY_HANDLE, BLUESKY_APP_PASSWORD and SOURCE_POLL_SECONDS; a
    network without its secrets stays off."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    x_bearer_token: SecretStr | None = None
    x_user_id: str | None = Field(default=None, pattern=r"^\d{1,20}$")
    # Posting replies needs the account's user context (OAuth 1.0a); reading needs only the above.
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_api_url: str = Field(default="https://api.twitter.com", pattern=r"^https?://\S+$")
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
        return [value for s in (*secrets, *self._x_user_keys) if len(value := secret_text(s)) >= 6]

    @property
    def _x_user_keys(self) -> tuple[SecretStr | None, ...]:
        return (self.x_api_key, self.x_api_secret, self.x_access_token, self.x_access_token_secret)

    def x_user_context(self) -> tuple[str, str, str, str] | None:
        """The four OAuth 1.0a values that let the bot post on X, or None unless all are set."""
        values = tuple(secret_text(s) for s in self._x_user_keys)
        return values if all(values) else None


def secret_text(value: SecretStr | None) -> str:
    """The secret, or "" when it is missing or still a placeholder."""
    raw = value.get_secret_value().strip() if value else ""
    return "" if raw.lower() in PLACEHOLDERS else raw
