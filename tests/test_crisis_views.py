"""The rapid-action team's views as pure functions: within Slack's limits, typed text inert,
war-room names within Slack's channel-name rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.config import CHANNEL_NAME
from bot.fakeslack import validate_message, validate_view
from bot.views import crisis as views
from bot.warroom import NAME_LIMIT, numbered
from escalation.crises import Crisis, CrisisRole, CrisisUpdate, Severity
from escalation.crisis_report import Timeline, TimelineCase, TimelineEvent, TimelineUpdate
from escalation.models import Case, Mention
from tests.test_workflow import ORG, PEOPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0SAM0001> <https://evil.example|brightwave.co.uk> & co " * 60


def crisis(**overrides) -> Crisis:
    values = {
        "id": 7, "title": HOSTILE[:150], "slug": "x", "severity": "SEV1", "summary": HOSTILE,
        "status": "open", "declared_by": PEOPLE["amira"], "declared_at": NOW,
        "channel_id": "C0WAR0001",
    }  # fmt: skip
    return Crisis(**values | overrides)


def case(n: int) -> Case:
    mention = Mention(id=n, source="x", author_handle="phil<b>", text=HOSTILE, posted_at=NOW)
    return Case(id=n, priority="P1", status="new", mentions=[mention])


def text_of(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def mrkdwn_of(blocks: list[dict]) -> str:
    """Every mrkdwn text, which Slack parses (plain_text it never does)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def test_modals_fit_slack_and_keep_what_is_prefilled():
    for view in (
        views.declare_modal(title=HOSTILE, summary=HOSTILE, case_ids=tuple(range(200))),
        views.update_modal(crisis()),
        views.close_modal(crisis()),
    ):
        assert validate_view(view) == []
    surge = views.declare_modal(title="Surge: Leeds", severity=Severity.SEV1, surge_alert_id=3)
    assert json.loads(surge["private_metadata"]) == {"surge": 3}
    severity = next(b for b in surge["blocks"] if b.get("block_id") == "severity")
    assert severity["element"]["initial_option"]["value"] == "SEV1"


def test_the_brief_and_an_update_fit_slack_and_quote_typed_text_inertly():
    brief = views.brief(crisis(), 40, ORG, "https://fake.slack.com/", timedelta(minutes=30))
    assert validate_message(brief.blocks) == []
    update = CrisisUpdate(conditions=HOSTILE, actions=HOSTILE, needs=HOSTILE,
                          posted_by=PEOPLE["owen"], posted_at=NOW)  # fmt: skip
    posted = views.update_message(crisis(), update, ORG, timedelta(minutes=30), war_room=False)
    assert validate_message(posted.blocks) == []
    for message in (brief, posted):
        shown = mrkdwn_of(message.blocks) + message.text
        assert "<!channel>" not in shown and "<@U0SAM0001>" not in shown
        assert "<https://evil" not in shown and "&lt;!channel&gt;" in shown
    assert "war room: <#C0WAR0001>" in text_of(posted.blocks)
    linked = crisis()
    linked.links = []
    assert "None yet" in text_of(views.brief(linked, 0, ORG, "", timedelta(hours=1)).blocks)
    line = views.case_line(case(1), "https://fake.slack.com/")
    assert "phil&lt;b&gt;" in line and "&lt;!channel&gt;" in line and "<!channel>" not in line


def test_the_topic_names_the_lead_in_plain_words():
    held = crisis(title="Leeds <outage>")
    held.roles = [CrisisRole(role="lead", person=PEOPLE["owen"])]
    assert views.topic(held, ORG, timedelta(minutes=30)) == (
        "SEV1 · Leeds outage · lead: Owen Price · update every 30 min"
    )
    assert len(views.topic(crisis(), ORG, timedelta(hours=1))) <= 250


def story(cases=(), outcome=None) -> Timeline:
    return Timeline(
        id=7, title="Leeds outage", severity="SEV1", summary="Down.", declared_by=PEOPLE["amira"],
        declared_at=NOW, closed_by=PEOPLE["sam"], closed_at=NOW + timedelta(hours=2, minutes=5),
        outcome=outcome, roles={"lead": PEOPLE["owen"]}, cases=tuple(cases),
        updates=(TimelineUpdate(NOW, PEOPLE["owen"], "Down.", "Splicing.", None),),
        events=tuple(TimelineEvent(NOW, PEOPLE["amira"], "case_linked", {"case": n})
                     for n in range(60)),
        volume=17,
    )  # fmt: skip


def timeline_case(n: int, minutes: int | None) -> TimelineCase:
    replied = NOW + timedelta(minutes=minutes) if minutes is not None else None
    return TimelineCase(n, "P1", "resolved", "x", "phil", "hi", NOW, replied, 1)


def test_the_plain_summary_states_the_timeline():
    cases = [timeline_case(1, 4), timeline_case(2, 20), timeline_case(3, None)]
    assert views.plain_summary(story(cases, "Back by 11:00."), ORG) == (
        "Leeds outage (SEV1) ran 2 h 5 min, declared by Amira Khan and closed by Sam Reid. It drew"
        " 17 mentions across 3 linked cases. 2 had a first public reply, typically within 12 min."
        " No public reply yet for case 3. The team posted 1 updates. Outcome: Back by 11:00."
    )


def test_the_closing_message_fits_slack_and_offers_the_archive():
    closing = views.closing_message(
        story([timeline_case(n, n) for n in range(80)]), HOSTILE, "llm (m)", ORG, "C0WAR0001"
    )
    assert validate_message(closing.blocks) == []
    shown = text_of(closing.blocks)
    assert "🤖 AI summary (m)" in shown and "<!channel>" not in mrkdwn_of(closing.blocks)
    assert "…and 36" in shown  # 60 actions: the first 24 shown
    (archive,) = closing.blocks[-1]["elements"]
    assert (archive["action_id"], archive["value"]) == ("crisis-archive", "7")
    without = views.closing_message(story(), "x", "plain", ORG, None)
    assert without.blocks[-1]["type"] != "actions"


def test_war_room_names_stay_valid_channel_names():
    base = "crisis-2026-11-02-" + "a" * 70
    for n in (1, 2, 10, 50):
        name = numbered(base, n)
        assert len(name) <= NAME_LIMIT and CHANNEL_NAME.match(name)
        assert name.endswith("" if n == 1 else f"-{n}")
    assert numbered("crisis-2026-11-02-leeds", 2) == "crisis-2026-11-02-leeds-2"
