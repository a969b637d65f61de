"""The `sources:` section, the sources' settings, building them, and the mapping helpers."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_org_config
from bot.sources.build import build_sources
from bot.sources.mapping import NO_TEXT, is_newer, language, newest_id, parse_time, plain_text
from bot.sources.settings import SourceSettings
from escalation.mentions import MAX_TEXT

ROOT = Path(__file__).resolve().parent.parent
ENV = (
    "X_BEARER_TOKEN",
    "X_USER_ID",
    "MASTODON_BASE_URL",
    "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
    "SOURCE_POLL_SECONDS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    resolve = socket.getaddrinfo

    def local_only(host, *args, **kwargs):  # building a source must not call anyone
        if host not in ("localhost", "127.0.0.1", "::1"):
            raise OSError(f"a test tried to reach {host}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


def org_with(tmp_path: Path, sources: dict | None):
    raw = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    raw.pop("sources", None)
    if sources is not None:
        raw["sources"] = sources
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_org_config(path)


ALL_ON = {
    "x": {"enabled": True, "account": "@brightwave"},
    "mastodon": {"enabled": True, "account": "brightwave@mastodon.social"},
    "bluesky": {"enabled": True, "handle": "Brightwave.co.uk"},
}


def test_without_a_sources_section_every_network_is_off(tmp_path):
    sources = org_with(tmp_path, None).sources
    assert not (sources.x.enabled or sources.mastodon.enabled or sources.bluesky.enabled)


def test_the_example_file_names_the_accounts_and_leaves_them_off():
    sources = load_org_config(ROOT / "config.example.yaml").sources
    assert (sources.x.account, sources.x.enabled) == ("brightwave", False)
    assert sources.mastodon.account == "brightwave@mastodon.social"
    assert sources.bluesky.handle == "brightwave.co.uk"


def test_accounts_are_normalised(tmp_path):
    sources = org_with(tmp_path, ALL_ON).sources
    assert (sources.x.account, sources.bluesky.handle) == ("brightwave", "brightwave.co.uk")


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"x": {"enabled": True}}, "sources.x.account: expected a value when enabled"),
        (
            {"mastodon": {"enabled": True, "account": "brightwave"}},
            "sources.mastodon.account: expected a Mastodon account such as",
        ),
        ({"bluesky": {"enabled": True, "handle": "no spaces"}}, "sources.bluesky.handle: expected"),
        ({"x": {"enabled": True, "account": "brightwave", "token": "t"}}, "sources.x.token"),
        ({"threads": {"enabled": True}}, "sources.threads: expected no such key"),
    ],
)
def test_a_wrong_sources_section_is_named(tmp_path, sources, message):
    with pytest.raises(ConfigError) as raised:
        org_with(tmp_path, sources)
    assert message in str(raised.value)


def test_settings_come_from_the_environment_with_secrets_hidden(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-bearer-secret")
    monkeypatch.setenv("X_USER_ID", "1417049853401378816")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    monkeypatch.setenv("SOURCE_POLL_SECONDS", "30")
    settings = SourceSettings()

    assert settings.source_poll_seconds == 30
    assert "AAAA-bearer-secret" not in repr(settings)
    assert sorted(settings.secret_values()) == ["AAAA-bearer-secret", "abcd-efgh-ijkl-mnop"]
    assert SourceSettings.model_fields["source_poll_seconds"].default == 60


def test_a_non_numeric_x_user_id_is_refused(monkeypatch):
    monkeypatch.setenv("X_USER_ID", "brightwave")
    with pytest.raises(ValueError, match="x_user_id"):
        SourceSettings()


def test_enabled_sources_without_credentials_are_skipped_with_one_line_each(tmp_path, caplog):
    org = org_with(tmp_path, ALL_ON)
    settings = SourceSettings(x_bearer_token="changeme", x_user_id="1417049853401378816")
    with caplog.at_level(logging.WARNING, logger="bot.sources.build"):
        assert build_sources(org, settings) == []

    assert [r.getMessage() for r in caplog.records] == [
        "source x is enabled but skipped: X_BEARER_TOKEN not set",
        "source mastodon is enabled but skipped: MASTODON_ACCESS_TOKEN not set",
        "source bluesky is enabled but skipped: BLUESKY_APP_PASSWORD not set",
    ]


def test_sources_with_credentials_are_built_without_calling_anyone(tmp_path):
    settings = SourceSettings(
        x_bearer_token="AAAA-bearer-secret",
        x_user_id="1417049853401378816",
        mastodon_access_token="mastodon-secret",
        bluesky_app_password="abcd-efgh-ijkl-mnop",
    )
    sources = build_sources(org_with(tmp_path, ALL_ON), settings)

    assert [s.key for s in sources] == [
        "x:1417049853401378816",
        "mastodon:brightwave@mastodon.social",
        "bluesky:brightwave.co.uk",
    ]
    assert sources[1].api.api_base_url == "https://mastodon.social"


def test_disabled_sources_are_not_built(tmp_path):
    settings = SourceSettings(x_bearer_token="AAAA-bearer-secret", x_user_id="1")
    assert build_sources(org_with(tmp_path, None), settings) == []


def test_text_is_never_empty_nor_too_long():
    assert plain_text("") == NO_TEXT
    assert plain_text(" \x00\x07 ") == NO_TEXT
    assert plain_text("a\r\nb\x1b") == "a\nb"
    assert len(plain_text("x" * (MAX_TEXT + 5))) == MAX_TEXT


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "en"), ("pt-BR", "pt-BR"), ("und", None), ("zxx", None), ("", None)],
)
def test_only_real_language_codes_are_kept(code, expected):
    assert language(code) == expected


def test_ids_compare_as_numbers_of_any_length():
    assert is_newer("100", "99") and not is_newer("99", "100") and is_newer("1", None)
    assert newest_id(["99", "100"], "98") == "100"
    assert newest_id([], "98") == "98" and newest_id([], None) is None


def test_datetimes_from_the_apis_are_aware():
    assert parse_time("2026-11-24T08:00:00.000Z") == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert parse_time("2026-11-24T08:00:00").tzinfo is UTC
