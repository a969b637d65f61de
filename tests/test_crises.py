"""Crisis services on a real database: declaring, roles, links, updates, the cadence, closing
with the timeline, and who may do what."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.db import unit_of_work
from escalation import cases, crises, war_rooms
from escalation.crises import Crisis, CrisisEvent, CrisisRoleName, Severity
from escalation.crisis_report import overview, timeline
from escalation.errors import InvalidTransition, NotAllowed, NotFound
from escalation.mentions import NewMention, record_mention
from escalation.models import Case, Mention
from escalation.people import Role
from tests.support import mention_record
from tests.test_workflow import ORG, PEOPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AMIRA, BEN, OWEN, SAM = (ORG.actor(PEOPLE[n]) for n in ("amira", "ben", "owen", "sam"))
STRANGER = ORG.actor("U0STRANGER")
TEAM = frozenset(ORG.with_role(Role.RAPID))
CADENCE = {"SEV1": timedelta(minutes=30), "SEV2": timedelta(hours=1), "SEV3": timedelta(hours=2)}
LEASE = timedelta(seconds=60)


def new_case(sessions, n: int, **overrides) -> int:
    mention = NewMention.model_validate_json(json.dumps(mention_record(n, **overrides)))
    with unit_of_work(sessions) as db:
        mention_id, _ = record_mention(
            db=db, mention=mention, triage_channel="social-triage", now=NOW
        )
        return cases.case_of(db, mention_id)


def run(sessions, service, **kwargs):
    with unit_of_work(sessions) as db:
        return service(db=db, **kwargs)


def declare(sessions, *, case_ids=(), actor=AMIRA, severity=Severity.SEV1, now=NOW, **extra):
    crisis = run(
        sessions,
        crises.declare,
        title=extra.pop("title", "Leeds outage: fibre cut!"),
        severity=severity,
        summary="Hundreds in Leeds without broadband since 08:40.",
        case_ids=case_ids,
        actor=actor,
        team=TEAM,
        cadence=CADENCE,
        setup_lease=LEASE,
        now=now,
        **extra,
    )
    return crisis.id


def ready(sessions, crisis_id: int, channel: str = "C0WAR0001", now=NOW) -> None:
    """The war room as the bot layer sets it up, step by step."""
    run(sessions, war_rooms.war_room_created, crisis_id=crisis_id, channel_id=channel,
        channel_name="crisis-2026-11-02-leeds", now=now)  # fmt: skip
    run(sessions, war_rooms.brief_posted, crisis_id=crisis_id, ts="1.000100")
    run(sessions, war_rooms.war_room_ready, crisis_id=crisis_id, invited=[OWEN.id], now=now)


def events(sessions, crisis_id: int) -> list[tuple[str, str | None]]:
    with sessions() as db:
        found = db.scalars(
            select(CrisisEvent).where(CrisisEvent.crisis_id == crisis_id).order_by(CrisisEvent.id)
        )
        return [(e.action, e.actor) for e in found]


def test_the_team_declares_a_crisis_with_its_cases_audited(sessions):
    first, second = new_case(sessions, 1), new_case(sessions, 2)
    crisis_id = declare(sessions, case_ids=[second, first, second], surge_alert_id=None)
    with sessions() as db:
        crisis = db.get(Crisis, crisis_id)
        assert (crisis.slug, crisis.severity, crisis.status) == (
            "leeds-outage-fibre-cut",
            "SEV1",
            "open",
        )
        assert [link.case_id for link in crisis.links] == [second, first]
        assert crisis.setup_due_at == NOW + LEASE and crisis.setup_attempts == 1
        assert crisis.next_reminder_at == NOW + timedelta(minutes=30)
        declared = db.scalars(select(CrisisEvent)).one()
        assert declared.data == {"severity": "SEV1", "cases": [second, first]}
    assert events(sessions, crisis_id) == [("declared", AMIRA.id)]


@pytest.mark.parametrize("who", [BEN, STRANGER])
def test_only_the_team_declares_and_the_refusal_names_who_can(sessions, who):
    with pytest.raises(NotAllowed) as refused:
        declare(sessions, actor=who)
    assert str(refused.value) == (
        "Sorry, only the rapid-action team can declare a crisis. Ask <@U0AMIRA01>, <@U0HANA001>,"
        " <@U0OWEN001>, <@U0SAM0001>."
    )
    with sessions() as db:
        assert db.scalars(select(Crisis)).all() == []


def test_unknown_cases_and_an_empty_title_are_refused(sessions):
    with pytest.raises(NotFound, match="There is no case 404, 405."):
        declare(sessions, case_ids=[404, 405])
    with pytest.raises(InvalidTransition, match="title"):
        declare(sessions, title="   ")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Leeds outage: fibre cut!", "leeds-outage-fibre-cut"),
        ("Café Nero router fire", "cafe-nero-router-fire"),
        ("🔥🔥", "crisis"),
        ("a" * 60, "a" * 40),
    ],
)
def test_slugs_fit_channel_names(title, slug):
    assert crises.slugify(title) == slug


def test_roles_are_assigned_and_handed_over(sessions):
    crisis_id = declare(sessions)
    give = {
        "crisis_id": crisis_id,
        "role": CrisisRoleName.LEAD,
        "actor": AMIRA,
        "team": TEAM,
        "now": NOW,
    }
    run(sessions, crises.assign_role, person_id=OWEN.id, **give)
    run(sessions, crises.assign_role, person_id=SAM.id, **give)
    with sessions() as db:
        crisis = db.get(Crisis, crisis_id)
        assert [(r.role, r.person) for r in crisis.roles] == [("lead", SAM.id)]
        assigned = db.scalars(select(CrisisEvent).where(CrisisEvent.action == "role_assigned"))
        assert [e.data for e in assigned] == [
            {"role": "lead", "person": OWEN.id, "previous": None},
            {"role": "lead", "person": SAM.id, "previous": OWEN.id},
        ]
    with pytest.raises(NotAllowed, match="only the rapid-action team can assign crisis roles"):
        run(sessions, crises.assign_role, person_id=BEN.id, **give | {"actor": BEN})


def test_anyone_in_the_organisation_links_a_case_once(sessions):
    crisis_id, case_id = declare(sessions), new_case(sessions, 1)
    link = {"crisis_id": crisis_id, "case_id": case_id, "team": TEAM, "now": NOW}
    run(sessions, crises.link_case, actor=BEN, **link)
    with pytest.raises(InvalidTransition, match=f"Case {case_id} is linked to this crisis already"):
        run(sessions, crises.link_case, actor=AMIRA, **link)
    with pytest.raises(NotAllowed, match="not in the bot's organisation file"):
        run(sessions, crises.link_case, actor=STRANGER, **link | {"case_id": new_case(sessions, 2)})
    with pytest.raises(NotFound, match="There is no case 999"):
        run(sessions, crises.link_case, actor=BEN, **link | {"case_id": 999})
    assert events(sessions, crisis_id)[-1] == ("case_linked", BEN.id)


def test_an_update_restarts_the_cadence(sessions):
    crisis_id = declare(sessions, severity=Severity.SEV2)
    later = NOW + timedelta(minutes=20)
    update = run(
        sessions, crises.post_update, crisis_id=crisis_id, conditions="Still down in LS6.",
        actions="Field Ops on site.", needs="  ", actor=OWEN, team=TEAM, cadence=CADENCE,
        now=later,
    )  # fmt: skip
    assert update.needs is None
    with sessions() as db:
        crisis = db.get(Crisis, crisis_id)
        assert crisis.last_update_at == later
        assert crisis.next_reminder_at == later + timedelta(hours=1)
    with pytest.raises(NotAllowed, match="only the rapid-action team can post crisis updates"):
        run(sessions, crises.post_update, crisis_id=crisis_id, conditions="x", actions="y",
            needs=None, actor=BEN, team=TEAM, cadence=CADENCE, now=later)  # fmt: skip


def test_a_silent_war_room_is_reminded_once_per_cadence(sessions):
    crisis_id = declare(sessions)
    due = NOW + timedelta(minutes=30)
    assert run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=due) == []  # not ready
    ready(sessions, crisis_id)
    assert (
        run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=due - timedelta(seconds=1))
        == []
    )
    assert [c.id for c in run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=due)] == [
        crisis_id
    ]
    assert run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=due) == []
    # Slack refused it: due again a minute later, not a whole cadence later.
    run(
        sessions,
        war_rooms.reminder_failed,
        crisis_id=crisis_id,
        retry_at=due + timedelta(minutes=1),
    )
    again = due + timedelta(minutes=1)
    assert [c.id for c in run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=again)] == [
        crisis_id
    ]
    with sessions() as db:
        assert db.get(Crisis, crisis_id).next_reminder_at == again + timedelta(minutes=30)
        reminded = db.scalars(select(CrisisEvent).where(CrisisEvent.action == "reminded")).all()
        assert [e.data["silent_seconds"] for e in reminded] == [1800, 1860]


def test_replicas_claiming_reminders_at_once_remind_once(sessions):
    crisis_id = declare(sessions)
    ready(sessions, crisis_id)
    due = NOW + timedelta(minutes=31)

    def claim(_):
        return [c.id for c in run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=due)]

    with ThreadPoolExecutor(6) as pool:
        claimed = [c for found in pool.map(claim, range(6)) for c in found]
    assert claimed == [crisis_id]


def test_a_half_set_up_war_room_is_continued_after_its_lease(sessions):
    crisis_id = declare(sessions)
    run(sessions, war_rooms.war_room_created, crisis_id=crisis_id, channel_id="C0WAR0001",
        channel_name="crisis-2026-11-02-leeds-outage-fibre-cut", now=NOW)  # fmt: skip
    run(sessions, war_rooms.setup_failed, crisis_id=crisis_id, error="Slack answered fatal_error",
        now=NOW)  # fmt: skip
    claim = {"lease": LEASE}
    assert run(sessions, war_rooms.claim_setups, now=NOW + timedelta(seconds=59), **claim) == []
    after = NOW + LEASE
    assert run(sessions, war_rooms.claim_setups, now=after, **claim) == [crisis_id]
    assert run(sessions, war_rooms.claim_setups, now=after, **claim) == []  # held again
    for attempt in range(3, war_rooms.MAX_SETUP_ATTEMPTS + 1):
        later = after + LEASE * attempt
        assert run(sessions, war_rooms.claim_setups, now=later, **claim) == [crisis_id]
    assert run(sessions, war_rooms.claim_setups, now=after + LEASE * 99, **claim) == []  # gave up
    with sessions() as db:
        crisis = db.get(Crisis, crisis_id)
        assert crisis.channel_id == "C0WAR0001"  # kept: a retry continues in it
        assert crisis.setup_error == "Slack answered fatal_error"


def test_the_crisis_a_command_means(sessions):
    with sessions() as db, pytest.raises(NotFound, match="No crisis is open"):
        crises.crisis_for(db, "C0ANY")
    first = declare(sessions, title="Leeds outage")
    with sessions() as db:
        assert crises.crisis_for(db, "C0ANY").id == first
    second = declare(sessions, title="Data leak claim")
    ready(sessions, first, channel="C0WARLEEDS")
    with sessions() as db:
        assert crises.crisis_for(db, "C0WARLEEDS").id == first
        with pytest.raises(InvalidTransition) as ambiguous:
            crises.crisis_for(db, "C0ANY")
    assert str(ambiguous.value) == (
        "2 crises are open: run the command in the war room of the one you mean"
        " (<#C0WARLEEDS>, “Data leak claim”)."
    )
    assert second


def test_status_lists_volume_open_cases_and_the_last_update(sessions):
    first, second, third = (new_case(sessions, n) for n in (1, 2, 3))
    with unit_of_work(sessions) as db:  # the third mention joins the first conversation's case
        db.execute(update(Mention).where(Mention.case_id == third).values(case_id=first))
    run(sessions, cases.resolve, case_id=second, outcome=cases.Outcome.REPLIED_PUBLICLY,
        link=None, actor=AMIRA, org=ORG, now=NOW + timedelta(minutes=12))  # fmt: skip
    crisis_id = declare(sessions, case_ids=[first, second])
    run(sessions, crises.assign_role, crisis_id=crisis_id, role=CrisisRoleName.LEAD,
        person_id=OWEN.id, actor=AMIRA, team=TEAM, now=NOW)  # fmt: skip
    with sessions() as db:
        (state,) = overview(db)
    assert (state.id, state.volume, state.cases, state.open_cases) == (crisis_id, 3, 2, 1)
    assert state.roles == {"lead": OWEN.id} and state.last_update_at is None
    assert state.silent_for(NOW + timedelta(minutes=7)) == timedelta(minutes=7)


def test_closing_gives_the_timeline_and_stops_the_reminders(sessions):
    replied, silent = new_case(sessions, 1), new_case(sessions, 2)
    run(sessions, cases.claim, case_id=replied, actor=AMIRA, org=ORG, now=NOW)
    run(sessions, cases.resolve, case_id=replied, outcome=cases.Outcome.REPLIED_PUBLICLY,
        link=None, actor=AMIRA, org=ORG, now=NOW + timedelta(minutes=14))  # fmt: skip
    crisis_id = declare(sessions, case_ids=[replied])
    ready(sessions, crisis_id)
    run(sessions, crises.link_case, crisis_id=crisis_id, case_id=silent, actor=BEN, team=TEAM,
        now=NOW + timedelta(minutes=5))  # fmt: skip
    run(sessions, crises.post_update, crisis_id=crisis_id, conditions="Fibre spliced.",
        actions="Service back street by street.", needs=None, actor=OWEN, team=TEAM,
        cadence=CADENCE, now=NOW + timedelta(minutes=40))  # fmt: skip
    closing = NOW + timedelta(hours=2)
    with pytest.raises(NotAllowed, match="only the rapid-action team can close a crisis"):
        run(
            sessions,
            crises.close,
            crisis_id=crisis_id,
            outcome=None,
            actor=BEN,
            team=TEAM,
            now=closing,
        )
    run(sessions, crises.close, crisis_id=crisis_id, outcome="All of Leeds back by 11:00.",
        actor=SAM, team=TEAM, now=closing)  # fmt: skip

    with sessions() as db:
        story = timeline(db, crisis_id)
        assert overview(db) == []
    assert story.duration == timedelta(hours=2) and story.outcome == "All of Leeds back by 11:00."
    assert [(c.case_id, c.first_reply) for c in story.cases] == [
        (replied, timedelta(minutes=14)),
        (silent, None),
    ]
    assert [u.conditions for u in story.updates] == ["Fibre spliced."]
    assert [e.action for e in story.events] == [
        "declared", "war_room_created", "war_room_ready", "case_linked", "update_posted", "closed",
    ]  # fmt: skip
    data = story.as_data(ORG.name)
    assert data["closed"]["by"] == "Sam Reid" and data["cases"][0]["first_reply_minutes"] == 14
    assert json.dumps(data)  # ready for the LLM
    assert (
        run(sessions, war_rooms.claim_reminders, cadence=CADENCE, now=closing + timedelta(days=1))
        == []
    )
    with pytest.raises(InvalidTransition, match="is closed"):
        run(sessions, crises.link_case, crisis_id=crisis_id, case_id=silent, actor=BEN, team=TEAM,
            now=closing)  # fmt: skip


def test_only_a_closed_crisis_is_archived_once(sessions):
    crisis_id = declare(sessions)
    archive = {"crisis_id": crisis_id, "actor": AMIRA, "team": TEAM, "now": NOW}
    with pytest.raises(InvalidTransition, match="Close the crisis first"):
        run(sessions, crises.archive, **archive)
    run(sessions, crises.close, crisis_id=crisis_id, outcome=None, actor=AMIRA, team=TEAM, now=NOW)
    with pytest.raises(NotAllowed):
        run(sessions, crises.archive, **archive | {"actor": BEN})
    assert run(sessions, crises.archive, **archive).archived_at == NOW
    with pytest.raises(InvalidTransition, match="archived already"):
        run(sessions, crises.archive, **archive)


def test_cases_are_found_by_their_card_their_post_or_their_mentions(sessions):
    case_id = new_case(sessions, 1)
    with unit_of_work(sessions) as db:
        case = db.get(Case, case_id)
        case.triage_channel, case.triage_ts = "C0TRIAGE1", "1762074000.000100"
        mention_id = case.mention.id
    with sessions() as db:
        assert crises.case_at(db, channel_id="C0TRIAGE1", ts="1762074000.000100") == case_id
        assert crises.case_at(db, url="https://x.com/user1/status/18000001") == case_id
        assert crises.cases_of(db, [mention_id, 999, mention_id]) == [case_id]
        with pytest.raises(NotFound, match="That is not a case"):
            crises.case_at(db, url="https://x.com/nobody/status/1")
