"""The rapid-action team's slash command (/rapid by default), its modals, the "Declare crisis"
button of a surge alert and the "Archive channel" button of a closed crisis.

    declare [title]            a modal, then the war room (bot/warroom.py)
    status                     open crises, privately
    update                     a modal: conditions, actions, needs
    role lead|comms|scribe @p  assign; the person gets the role's instructions by DM
    link <case>                a case number, a triage card's link or the post's link
    close                      a modal, then the summary and timeline, and an archive button
    help                       and anything else: the help (naming what was not understood)

In a war room the commands act on its crisis; elsewhere on the one open crisis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App

from bot.services import Services
from bot.views import crisis as views
from bot.views.ids import ActionId, CallbackId
from bot.views.text import Message
from bot.warroom import RapidDesk
from escalation import crises
from escalation.crises import CrisisRoleName, Severity
from escalation.crisis_report import overview
from escalation.errors import InvalidTransition, NotAllowed, NotFound, NotUnderstood
from escalation.permissions import stranger_refusal
from escalation.store import first_time
from escalation.surge import SurgeAlert
from handlers.actions import apply_submission
from handlers.payloads import MAX_ID, BadPayload, Click, field, metadata, number

ROLE_ARGS = re.compile(r"^(\w+)\s+<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
PERMALINK = re.compile(r"/archives/([CG][A-Z0-9]+)/p(\d{10})(\d{6})(?:\?.*thread_ts=([\d.]+))?")
CASE_NUMBER = re.compile(r"^(?:case\s*)?#?(\d+)$", re.I)


def register(app: App, command: str) -> None:
    app.command(command)(rapid)
    app.view(CallbackId.CRISIS_DECLARE)(submit_declare)
    app.view(CallbackId.CRISIS_UPDATE)(submit_update)
    app.view(CallbackId.CRISIS_CLOSE)(submit_close)
    app.action(ActionId.SURGE_DECLARE)(surge_declare)
    app.action(ActionId.CRISIS_ARCHIVE)(archive)


@dataclass(frozen=True)
class Asked:
    """A slash command as typed (who, where, the verb and what follows it), with what its
    answer needs."""

    user: str
    channel: str
    verb: str
    rest: str
    trigger_id: str
    client: Any
    services: Services
    respond: Callable

    @classmethod
    def of(cls, body: dict, client, services: Services, respond) -> Asked:
        verb, _, rest = " ".join((body.get("text") or "").split()).partition(" ")
        where = (body["user_id"], body["channel_id"], verb.lower(), rest, body["trigger_id"])
        return cls(*where, client, services, respond)

    @property
    def desk(self) -> RapidDesk:
        return desk(self.services)

    def say(self, message: Message) -> None:
        self.respond(text=message.text, blocks=message.blocks, response_type="ephemeral")

    def team_only(self, verb: str) -> frozenset[str]:
        """The team, if the person is on it; NotAllowed (said to them) otherwise."""
        return _team_only(self.services, self.user, verb)

    def known_only(self) -> None:
        """For the verbs anyone may use: anyone in the organisation file, or on the team (whose
        user group may hold people who are not in it); NotAllowed (said to them) otherwise."""
        if not self.services.actor(self.user).known and self.user not in self.desk.team():
            raise NotAllowed(stranger_refusal(self.services.org))

    def open_crisis(self):
        """The crisis the command is about, if it is open."""
        with self.services.read() as db:
            crisis = crises.crisis_for(db, self.channel)
        if not crisis.is_open:
            raise InvalidTransition(f"“{crisis.title}” is closed.")
        return crisis


def desk(services: Services) -> RapidDesk:
    if services.rapid is None:
        raise InvalidTransition("Crisis commands are not set up on this server.")
    return services.rapid


def _team_only(services: Services, user: str, verb: str) -> frozenset[str]:
    team = desk(services).team()
    if reason := crises.team_refusal(verb, services.actor(user), team):
        raise NotAllowed(reason)
    return team


def rapid(ack, body, client, services, respond):
    ack()
    asked = Asked.of(body, client, services, respond)
    if asked.verb in VERBS:
        VERBS[asked.verb](asked)
        return
    typed = (body.get("text") or "").strip()
    unknown = typed if typed and asked.verb != "help" else None
    asked.say(views.help_message(asked.desk.command, unknown))


def declare(asked: Asked) -> None:
    asked.team_only("declare a crisis")
    view = views.declare_modal(title=asked.rest)
    asked.client.views_open(trigger_id=asked.trigger_id, view=view)


def status(asked: Asked) -> None:
    asked.known_only()
    with asked.services.read() as db:
        states = overview(db)
    now, cadence = asked.services.now(), asked.desk.cadence
    asked.say(views.status_message(states, asked.services.org, now, cadence))


def open_update(asked: Asked) -> None:
    asked.team_only("post crisis updates")
    view = views.update_modal(asked.open_crisis())
    asked.client.views_open(trigger_id=asked.trigger_id, view=view)


def open_close(asked: Asked) -> None:
    asked.team_only("close a crisis")
    view = views.close_modal(asked.open_crisis())
    asked.client.views_open(trigger_id=asked.trigger_id, view=view)


def role(asked: Asked) -> None:
    found = ROLE_ARGS.match(asked.rest)
    if not found or found.group(1).lower() not in set(CrisisRoleName):
        roles = "|".join(CrisisRoleName)
        raise NotUnderstood(f"Say which role and who: `{asked.desk.command} role {roles} @person`.")
    given, holder = CrisisRoleName(found.group(1).lower()), found.group(2)
    services, team = asked.services, asked.desk.team()
    with services.unit() as db:
        crisis = crises.crisis_for(db, asked.channel)
        crises.assign_role(
            db=db,
            crisis_id=crisis.id,
            role=given,
            person_id=holder,
            actor=services.actor(asked.user),
            team=team,
            now=services.now(),
        )
        crisis_id, title = crisis.id, crisis.title
    asked.desk.role_given(crisis_id, given, holder, asked.user)
    who = services.org.name(holder)
    asked.respond(
        text=f"{who} is now the {given.value} of “{title}”; I sent them the role's instructions.",
        response_type="ephemeral",
    )


def link(asked: Asked) -> None:
    asked.known_only()
    services, team = asked.services, asked.desk.team()
    with services.unit() as db:
        crisis = crises.crisis_for(db, asked.channel)
        linked = crises.link_case(
            db=db,
            crisis_id=crisis.id,
            case_id=_case_reference(db, asked.rest),
            actor=services.actor(asked.user),
            team=team,
            now=services.now(),
        )
        crisis_id, case_id, title = crisis.id, linked.case_id, crisis.title
    asked.desk.case_linked(crisis_id, case_id, asked.user)
    asked.respond(text=f"Case {case_id} is linked to “{title}”.", response_type="ephemeral")


def _case_reference(db, typed: str) -> int:
    """A case number, a link to its triage card (or a reply in its thread), or its post's link;
    Slack sends links as <https://...> or <https://...|label>."""
    reference = typed.strip().removeprefix("<").removesuffix(">").partition("|")[0]
    found = CASE_NUMBER.match(reference)
    if found and (case_id := number(found.group(1))) is not None:
        return case_id
    if card := PERMALINK.search(reference):
        channel, seconds, micros, thread = card.groups()
        return crises.case_at(db, channel_id=channel, ts=thread or f"{seconds}.{micros}")
    if reference.startswith(("https://", "http://")):
        return crises.case_at(db, url=reference)
    raise NotUnderstood("Say which case: `link 12`, or paste its triage card's link or the post's.")


VERBS: dict[str, Callable[[Asked], None]] = {
    "declare": declare,
    "status": status,
    "update": open_update,
    "role": role,
    "link": link,
    "close": open_close,
}  # and help, which anything else gets too


# --- modals -------------------------------------------------------------------------------------


def _numbers(text: str | None) -> list[int] | None:
    """'12, 15 #18' -> [12, 15, 18]; None if something else is in there."""
    parts = re.split(r"[\s,;]+", (text or "").replace("#", " ").strip())
    found = [number(p) for p in parts if p]
    return None if None in found else found


def _reference(value) -> int:
    if not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise BadPayload("private_metadata is not ours")
    return value


def submit_declare(ack, body, view, services):
    title, summary = field(view, "title"), field(view, "summary")
    severity, case_ids = field(view, "severity"), _numbers(field(view, "cases"))
    if case_ids is None:
        ack(response_action="errors", errors={"cases": "Case numbers only, such as 12, 15."})
        return
    if not title or severity not in set(Severity) or not summary:
        ack(response_action="errors", errors={"title": "Give a title, a severity and a summary."})
        return
    try:
        with services.read() as db:
            crises.find_cases(db, case_ids)
    except NotFound as error:
        ack(response_action="errors", errors={"cases": str(error)})
        return
    surge = metadata(view).get("surge")
    rapid_desk, declared = desk(services), []
    team = rapid_desk.team()  # may ask Slack: before the transaction

    def change(db):
        crisis = crises.declare(
            db=db,
            title=title,
            severity=Severity(severity),
            summary=summary,
            case_ids=case_ids,
            actor=services.actor(body["user"]["id"]),
            team=team,
            cadence=rapid_desk.cadence,
            setup_lease=rapid_desk.setup_lease,
            now=services.now(),
            surge_alert_id=_reference(surge) if surge is not None else None,
        )
        declared.append(crisis.id)

    apply_submission(ack, view, services, change, "title")
    for crisis_id in declared:  # after the ack: Slack is waiting for nothing now
        rapid_desk.set_up(crisis_id)


def submit_update(ack, body, view, services):
    conditions, actions = field(view, "conditions"), field(view, "actions")
    if not conditions or not actions:
        ack(
            response_action="errors",
            errors={"conditions": "Say how things stand and what is done."},
        )
        return
    crisis_id, rapid_desk, posted = _reference(metadata(view).get("crisis")), desk(services), []
    team = rapid_desk.team()

    def change(db):
        update = crises.post_update(
            db=db,
            crisis_id=crisis_id,
            conditions=conditions,
            actions=actions,
            needs=field(view, "needs"),
            actor=services.actor(body["user"]["id"]),
            team=team,
            cadence=rapid_desk.cadence,
            now=services.now(),
        )
        posted.append(update.id)

    apply_submission(ack, view, services, change, "conditions")
    for update_id in posted:
        rapid_desk.announce_update(crisis_id, update_id)


def submit_close(ack, body, view, services):
    crisis_id, rapid_desk, closed = _reference(metadata(view).get("crisis")), desk(services), []
    team = rapid_desk.team()

    def change(db):
        crises.close(
            db=db,
            crisis_id=crisis_id,
            outcome=field(view, "outcome"),
            actor=services.actor(body["user"]["id"]),
            team=team,
            now=services.now(),
        )
        closed.append(crisis_id)

    apply_submission(ack, view, services, change, "outcome")
    if closed:  # the LLM may take a while: after the ack
        rapid_desk.post_closing(crisis_id)


# --- buttons ------------------------------------------------------------------------------------


def surge_declare(ack, body, client, services):
    """The "Declare crisis" button of a surge alert: the declare modal, filled from the alert."""
    ack()
    click = Click.of(body)
    _team_only(services, click.user, "declare a crisis")
    if (surge_id := number(click.value)) is None:
        raise BadPayload(f"not a surge alert: {click.value[:40]!r}")
    with services.read() as db:
        surge = db.get(SurgeAlert, surge_id)
        if surge is None:
            raise NotFound("That surge alert no longer exists.")
        alert = surge.alert
        case_ids = tuple(crises.cases_of(db, alert.sample_ids))
    view = views.declare_modal(
        title=views.surge_title(alert),
        summary=alert.reason,
        case_ids=case_ids,
        surge_alert_id=surge.id,
    )
    client.views_open(trigger_id=click.trigger_id, view=view)


def archive(ack, body, services, respond):
    """Archive a closed crisis's war room: recorded only if Slack archived it."""
    ack()
    click, rapid_desk = Click.of(body), desk(services)
    if (crisis_id := number(click.value)) is None:
        raise BadPayload(f"not a crisis: {click.value[:40]!r}")
    team = rapid_desk.team()
    with services.unit() as db:
        if not first_time(db, key=click.key, now=services.now()):
            return
        crisis = crises.archive(
            db=db,
            crisis_id=crisis_id,
            actor=services.actor(click.user),
            team=team,
            now=services.now(),
        )
        if crisis.channel_id:
            rapid_desk.archive(crisis.channel_id)
        channel_id = crisis.channel_id
    respond(text=f"Archived <#{channel_id}>.", response_type="ephemeral", replace_original=False)
