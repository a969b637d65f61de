"""The organisation file: the example loads, and every kind of mistake names file, key, expected
and found."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, Role, load_org_config, parse_duration
from bot.settings import Settings, SettingsError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def test_example_config_describes_brightwave():
    org = load_org_config(EXAMPLE)
    assert org.channels.triage == "social-triage"
    assert set(org.departments) == {
        "care",
        "billing",
        "sales",
        "field",
        "network",
        "comms",
        "legal",
        "product",
    }
    assert org.departments["billing"].channel == "esc-billing"
    assert org.policies["P1"].first_reply == timedelta(minutes=15)
    assert org.policies["P1"].around_the_clock
    assert Role.MANAGER in org.person_by_slack_id("U0SAM0001").roles


def broken(tmp_path: Path, change) -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    change(data)
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_org_config(path)
    return str(caught.value)


def test_bad_channel_name_names_file_key_expected_and_found(tmp_path):
    message = broken(tmp_path, lambda d: d["departments"]["care"].update(channel="Esc Care"))
    assert str(tmp_path / "org.yaml") in message
    assert "departments.care.channel: expected a Slack channel name" in message
    assert "found 'Esc Care'" in message


def test_missing_key(tmp_path):
    message = broken(tmp_path, lambda d: d["channels"].pop("triage"))
    assert "channels.triage: expected a value, found nothing" in message


def test_unknown_lead_and_calendar_are_both_reported(tmp_path):
    def change(data):
        data["departments"]["billing"]["leads"] = ["nobody"]
        data["departments"]["legal"]["calendar"] = "lunar"

    message = broken(tmp_path, change)
    assert "departments.billing.leads: expected a key of 'people', found 'nobody'" in message
    assert "departments.legal.calendar: expected a key of 'calendars', found 'lunar'" in message


def test_bad_duration_and_time_zone(tmp_path):
    def change(data):
        data["policies"]["P2"]["first_reply"] = "an hour"
        data["calendars"]["always"]["timezone"] = "Mars/Olympus"

    message = broken(tmp_path, change)
    assert "policies.P2.first_reply: expected a duration such as 90s" in message
    assert "found 'an hour'" in message
    assert "calendars.always.timezone: expected an IANA time zone" in message


def test_unknown_key_and_wrong_type(tmp_path):
    def change(data):
        data["channels"]["triage_channel"] = "x"
        data["people"]["amira"]["roles"] = ["wizard"]

    message = broken(tmp_path, change)
    assert "channels.triage_channel: expected no such key, found 'x'" in message
    assert "people.amira.roles.0: expected 'agent', 'lead', 'manager' or 'rapid'" in message


def test_missing_priority_policy(tmp_path):
    message = broken(tmp_path, lambda d: d["policies"].pop("P4"))
    assert "policies: expected P1, P2, P3 and P4, found no ['P4']" in message


def test_the_rapid_action_team_section(tmp_path):
    team = load_org_config(EXAMPLE).rapid_team
    assert (team.command, team.usergroup, team.war_room) == ("/rapid", None, "crisis-{date}-{slug}")
    assert team.update_every.SEV1 == timedelta(minutes=30)

    def change(data):
        data["rapid_team"] |= {"command": "rapid", "usergroup": "U0AMIRA01"}
        data["rapid_team"]["war_room"] = "Crisis {when}"
        data["rapid_team"]["update_every"]["SEV1"] = "soon"

    message = broken(tmp_path, change)
    assert "rapid_team.command: expected a slash command such as /rapid" in message
    assert "rapid_team.usergroup: expected a Slack user group id" in message
    assert "rapid_team.war_room: expected a channel name template with {slug}" in message
    assert "rapid_team.update_every.SEV1: expected a duration" in message


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the organisation file"):
        load_org_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_org_config(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4))],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0m", "15", "1.5h", "m15", ""])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="a duration"):
        parse_duration(text)


def test_settings_refuse_placeholders_and_never_show_secrets(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "changeme")
    monkeypatch.setenv("INGEST_SECRET", "s3cr3t-value-for-ingest")
    settings = Settings()
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN still holds a placeholder"):
        settings.require_slack()
    assert "s3cr3t-value-for-ingest" not in repr(settings)
    assert "s3cr3t-value-for-ingest" in settings.secret_values()


def test_managers_digests(tmp_path):
    sam = load_org_config(EXAMPLE).digest_schedules()
    assert [(s.slack_id, s.at, s.timezone) for s in sam] == [
        ("U0SAM0001", time(8), "Europe/London")
    ]
    assert len(sam[0].departments) == 8

    data = yaml.safe_load(EXAMPLE.read_text())
    data["people"]["sam"].pop("digest")  # the default: 08:00 in the organisation's time zone
    data["people"]["nina"] = {
        "slack_id": "U0NINA001", "name": "Nina Ruiz", "roles": ["manager"],
        "timezone": "America/New_York", "digest": {"at": "07:30"},
    }  # fmt: skip
    data["people"]["ola"] = {
        "slack_id": "U0OLA0001",
        "name": "Ola Berg",
        "roles": ["manager"],
        "digest": False,
    }
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data))
    found = {s.slack_id: s for s in load_org_config(path).digest_schedules()}
    assert set(found) == {"U0SAM0001", "U0NINA001"}  # Ola asked for none
    assert (found["U0SAM0001"].at, found["U0SAM0001"].timezone) == (time(8), "Europe/London")
    assert (found["U0NINA001"].at, found["U0NINA001"].timezone) == (
        time(7, 30),
        "America/New_York",
    )
    assert found["U0NINA001"].departments is None  # no departments: all of them


def test_bad_digests_are_named(tmp_path):
    def change(data):
        data["people"]["sam"]["digest"] = {"at": "8am", "timezone": "Mars/Olympus"}

    message = broken(tmp_path, change)
    assert "people.sam.digest.at: expected a time of day such as 08:00" in message
    assert "found '8am'" in message
    assert "people.sam.digest.timezone: expected an IANA time zone" in message
    message = broken(tmp_path, lambda d: d["people"]["tom"].update(digest={"at": "09:00"}))
    assert (
        "people.tom.digest: expected a digest only for a person with role manager, found roles"
        " lead" in message
    )
