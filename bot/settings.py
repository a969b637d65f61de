"""Process settings: secrets and addresses, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xoxb-your-token", "your-signing-secret"}


class SettingsError(ValueError):
    """A setting is missing or still holds a placeholder; the message names it."""


class Settings(BaseSettings):
    """Everything that differs between deployments and must not live in the organisation file."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = "sqlite:///var/socialbot.db"
    # PostgreSQL connections per replica: the pool keeps `pool_size` open and opens up to
    # `max_overflow` more under load; a request waits `pool_timeout` for one, then fails (503).
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long opening a connection may take before it fails (a server down, not refusing).
    database_connect_timeout_seconds: int = Field(default=10, ge=1)
    ingest_secret: SecretStr | None = None
    bot_config: Path = Path("config.example.yaml")
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    http_threads: int = Field(default=16, ge=1)
    log_level: str = "INFO"
    replica_name: str | None = None

    # Slack allows about one message per second per channel with short bursts.
    channel_rate_per_second: float = Field(default=1.0, gt=0)
    channel_burst: int = Field(default=3, ge=1)
    # chat.update is a tier 3 method: about 50 a minute for the whole workspace. A burst comes on
    # top of the steady rate, so the two add up to 50: no minute ever holds more.
    update_rate_per_minute: float = Field(default=40, gt=0)
    update_burst: int = Field(default=10, ge=1)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    nag_tick_seconds: float = Field(default=15.0, gt=0)  # how often due reminders are sent

    def engine_options(self) -> dict:
        """The keyword arguments of `bot.db.make_engine` these settings choose."""
        return {
            "pool_size": self.database_pool_size,
            "max_overflow": self.database_max_overflow,
            "pool_timeout": self.database_pool_timeout_seconds,
            "connect_timeout": self.database_connect_timeout_seconds,
        }

    def secret_values(self) -> list[str]:
        """Every secret this process knows, so that logging can redact them."""
        secrets = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
        values = [s.get_secret_value() for s in (*secrets, self.ingest_secret) if s]
        values.append(make_url(self.database_url).password or "")
        return [v for v in values if len(v) >= 6]

    def require_slack(self) -> tuple[str, str]:
        """The bot token and signing secret, or a SettingsError naming what is missing."""
        token = _required(self.slack_bot_token, "SLACK_BOT_TOKEN")
        if self.slack_app_token is None:
            return token, _required(self.slack_signing_secret, "SLACK_SIGNING_SECRET")
        signing = self.slack_signing_secret.get_secret_value() if self.slack_signing_secret else ""
        return token, signing

    def require_ingest_secret(self) -> str:
        return _required(self.ingest_secret, "INGEST_SECRET")


def _required(value: SecretStr | None, name: str) -> str:
    raw = value.get_secret_value() if value else ""
    if raw.strip().lower() in PLACEHOLDERS:
        state = "is not set" if not raw else "still holds a placeholder"
        raise SettingsError(f"{name} {state}; see README, 'Settings'")
    return raw
