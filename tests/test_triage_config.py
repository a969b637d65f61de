"""The organisation file's `triage:` section: without it Brightwave's rules apply; with it, every
kind of mistake names the file, the key, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_org_config
from escalation.triage import TriageRules, check_rules
from escalation.triage.rules import DEFAULTS

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def with_rules() -> dict:
    """The example organisation file with Brightwave's rules copied in, as an operator would."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["triage"] = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    return data


def test_rules_come_from_the_section_or_the_defaults(tmp_path):
    assert load_org_config(EXAMPLE).triage is None  # the example relies on the defaults
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(with_rules()))
    from_file = TriageRules.from_config(load_org_config(path).triage)
    assert from_file.departments() == TriageRules.default().departments()
    assert TriageRules.from_config(None) is TriageRules.default()
    assert TriageRules.from_config(yaml.safe_load(DEFAULTS.read_text())).brand.names == (
        "Brightwave",
    )


def broken(tmp_path: Path, change) -> str:
    data = with_rules()
    change(data["triage"])
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))  # sorts keys: order must not matter
    with pytest.raises(ConfigError) as caught:
        load_org_config(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_unknown_flag_in_a_rule(tmp_path):
    message = broken(tmp_path, lambda t: t["routing"][5]["any"].append("legal_thret"))
    assert (
        "triage.routing.5.any: expected a cue, a derived flag or a built-in flag, "
        "found 'legal_thret'" in message
    )


def test_unknown_department(tmp_path):
    message = broken(tmp_path, lambda t: t["routing"][5].update(department="lawyers"))
    assert (
        "triage.routing.5.department: expected a key of 'departments', found 'lawyers'" in message
    )


def test_unknown_department_flag(tmp_path):
    message = broken(tmp_path, lambda t: t["priority"][3].update(all=["dept_lawyers"]))
    assert (
        "triage.priority.3.all: expected dept_ and a key of 'departments' or none, "
        "found 'dept_lawyers'" in message
    )


def test_bad_phrase(tmp_path):
    message = broken(tmp_path, lambda t: t["cues"]["billing"].append("re:(unclosed"))
    assert "triage.cues.billing." in message
    assert "expected a phrase of words" in message
    assert "found 're:(unclosed'" in message


def test_bad_priority_and_window(tmp_path):
    def change(triage):
        triage["priority"][0]["priority"] = "P5"
        triage["cluster"]["window"] = "soon"

    message = broken(tmp_path, change)
    assert "triage.priority.0.priority: expected 'P1', 'P2', 'P3' or 'P4', found 'P5'" in message
    assert "triage.cluster.window: expected a duration such as 90s" in message


def test_reach_bands_must_start_at_zero_and_name_the_verified_band(tmp_path):
    message = broken(tmp_path, lambda t: t["reach"].update(bands={"few": 10, "many": 50000}))
    assert "triage.reach.bands: expected one band starting at 0" in message
    assert "triage.reach.verified_at_least: expected a key of 'reach.bands', found 'medium'" in (
        message
    )


def test_a_derived_flag_may_not_depend_on_itself(tmp_path):
    def change(triage):
        triage["derived"]["loop_a"] = {"any": ["loop_b"]}
        triage["derived"]["loop_b"] = {"all": ["loop_a"]}

    message = broken(tmp_path, change)
    assert "triage.derived.loop_a: expected flags that do not depend on 'loop_a' itself" in message


def test_unknown_key_and_bad_flag_name(tmp_path):
    def change(triage):
        triage["colour"] = "blue"
        triage["derived"]["shouty"] = {"any": ["Not A Name"]}

    message = broken(tmp_path, change)
    assert "triage.colour: expected no such key, found 'blue'" in message
    assert "triage.derived.shouty.any.0: expected a flag name" in message


def test_rules_from_a_mapping_are_checked_too():
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    data["no_reply"].append({"any": ["nonsense"]})
    with pytest.raises(ValueError, match="triage.no_reply.4.any: expected a cue"):
        TriageRules.from_dict(data)
    assert check_rules(yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))) == []
