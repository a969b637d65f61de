"""The rapid-action team's desk: who is on the team, and what a crisis does in Slack.

A war room is set up in steps (create the channel, invite, post and pin the brief, set the
topic), each recorded as soon as it is done (escalation/war_rooms.py): a setup that fails
half-way is continued by the next attempt, never repeated. The first attempt runs in the
listener that took the declaration; later ones in whichever replica's ticker claims it once its
lease has run out. Slack calls happen outside any database transaction.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.error
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import OrgConfig, RapidTeam
from bot.db import unit_of_work
from bot.llm import LlmClient, LlmError
from bot.views import crisis as views
from bot.views.text import Message
from escalation import crises, war_rooms
from escalation.crises import Crisis, CrisisRoleName, CrisisUpdate
from escalation.crisis_report import Timeline, timeline, volume
from escalation.models import Case
from escalation.people import Directory, Role
from prompts.crisis import render_summary_prompt, summary_problem

log = logging.getLogger(__name__)
NAME_LIMIT = 80
MAX_SUFFIX = 50
TEAM_CACHE_SECONDS = 60
REMINDER_RETRY = timedelta(minutes=1)
# Invitations Slack refuses for one person: the others are still invited.
NOT_INVITED = frozenset(
    {"already_in_channel", "user_not_found", "cant_invite_self", "user_is_restricted"}
)
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError)


class WarRoomError(Exception):
    """The war room cannot be set up (every name tried is taken)."""


@dataclass
class RapidDesk:
    client: WebClient
    sessions: sessionmaker[Session]
    org: Directory
    settings: RapidTeam
    timezone: str
    rapid_channel: str
    clock: Callable[[], datetime]
    team_url: str = ""
    bot_user_id: str = ""
    llm: LlmClient | None = None
    setup_lease: timedelta = timedelta(seconds=60)
    _known_group: tuple[float, frozenset[str]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_org(cls, org: OrgConfig, client: WebClient, sessions, **options) -> RapidDesk:
        """The desk of an organisation's rapid-action team; `options` as the fields below."""
        me = client.auth_test()
        return cls(
            client=client,
            sessions=sessions,
            org=org.directory(),
            settings=org.rapid_team,
            timezone=org.timezone,
            rapid_channel=org.channels.rapid_response,
            team_url=me.get("url", ""),
            bot_user_id=me.get("user_id", ""),
            **options,
        )

    @property
    def command(self) -> str:
        return self.settings.command

    @property
    def cadence(self) -> dict[str, timedelta]:
        return self.settings.update_every.model_dump()

    def every(self, crisis: Crisis) -> timedelta:
        return self.cadence[crisis.severity]

    # --- the team ---------------------------------------------------------------------------

    def team(self) -> frozenset[str]:
        """People with role `rapid`, and the members of the user group, which Slack is asked
        for at most once a minute (the last answer stands while Slack does not answer)."""
        people = frozenset(self.org.with_role(Role.RAPID))
        group = self.settings.usergroup
        if group is None:
            return people
        with self._lock:
            known = self._known_group
        if known and time.monotonic() - known[0] < TEAM_CACHE_SECONDS:
            return people | known[1]
        try:
            members = frozenset(self.client.usergroups_users_list(usergroup=group)["users"])
        except (SlackApiError, *NETWORK_ERRORS) as error:
            log.warning("rapid-action team: cannot read user group %s: %s", group, error)
            return people | (known[1] if known else frozenset())
        with self._lock:
            self._known_group = (time.monotonic(), members)
        return people | members

    # --- the war room -----------------------------------------------------------------------

    def set_up(self, crisis_id: int) -> bool:
        """Create or continue the war room; False (the error recorded) when Slack failed."""
        try:
            channel_id = self._channel(crisis_id)
            invited = self._invite_everyone(crisis_id, channel_id)
            self._brief(crisis_id, channel_id)
        except (SlackApiError, WarRoomError, *NETWORK_ERRORS) as error:
            reason = _reason(error)
            log.warning("crisis %s: war room setup failed, to be retried: %s", crisis_id, reason)
            with self._unit() as db:
                war_rooms.setup_failed(db=db, crisis_id=crisis_id, error=reason, now=self.clock())
            return False
        with self._unit() as db:
            war_rooms.war_room_ready(db=db, crisis_id=crisis_id, invited=invited, now=self.clock())
        return True

    def war_room_name(self, crisis: Crisis) -> str:
        day = crisis.declared_at.astimezone(ZoneInfo(self.timezone)).date().isoformat()
        return self.settings.war_room.format(date=day, slug=crisis.slug)

    def _channel(self, crisis_id: int) -> str:
        """The war room's id: the stored one, else a new channel (-2, -3... if taken)."""
        with self.sessions() as db:
            crisis = db.get_one(Crisis, crisis_id)
            if crisis.channel_id:
                return crisis.channel_id
            base = self.war_room_name(crisis)
        for n in range(1, MAX_SUFFIX + 1):
            name = numbered(base, n)
            try:
                made = self.client.conversations_create(name=name, is_private=self.settings.private)
            except SlackApiError as error:
                if _error(error) == "name_taken":
                    continue
                raise
            channel_id = made["channel"]["id"]
            with self._unit() as db:
                war_rooms.war_room_created(
                    db=db,
                    crisis_id=crisis_id,
                    channel_id=channel_id,
                    channel_name=name,
                    now=self.clock(),
                )
            return channel_id
        raise WarRoomError(f"every channel name from {base} to {base}-{MAX_SUFFIX} is taken")

    def _invite_everyone(self, crisis_id: int, channel_id: str) -> list[str]:
        """The team, the declarer, the role holders and the leads of the cases' departments."""
        team = sorted(self.team())  # may ask Slack: outside the session
        with self.sessions() as db:
            crisis = db.get_one(Crisis, crisis_id)
            wanted = [*team, crisis.declared_by, *(r.person for r in crisis.roles)]
            wanted += self.leads_of(link.case for link in crisis.links)
        return self.invite(channel_id, wanted)

    def leads_of(self, cases: Iterable[Case]) -> list[str]:
        """The leads of the departments a case was escalated to, or suggested for."""
        departments = []
        for case in cases:
            departments += [e.department for e in case.escalations]
            departments.append(case.mention.department)
        known = [
            self.org.departments[d] for d in dict.fromkeys(departments) if d in self.org.departments
        ]
        return [lead for department in known for lead in department.leads]

    def invite(self, channel_id: str, users: Iterable[str]) -> list[str]:
        """Invite whoever is not in the channel yet; returns who was invited."""
        present = set(self._members(channel_id))
        missing = [u for u in dict.fromkeys(users) if u not in present and u != self.bot_user_id]
        if not missing:
            return []
        try:
            self.client.conversations_invite(channel=channel_id, users=",".join(missing))
            return missing
        except SlackApiError as error:
            if _error(error) not in NOT_INVITED:
                raise
        return [user for user in missing if self._invite_one(channel_id, user)]

    def _invite_one(self, channel_id: str, user: str) -> bool:
        try:
            self.client.conversations_invite(channel=channel_id, users=user)
            return True
        except SlackApiError as error:
            if _error(error) not in NOT_INVITED:
                raise
            log.info("war room %s: %s not invited (%s)", channel_id, user, _error(error))
            return False

    def _members(self, channel_id: str) -> list[str]:
        members, cursor = [], None
        while True:
            page = self.client.conversations_members(channel=channel_id, limit=200, cursor=cursor)
            members += page["members"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    def _brief(self, crisis_id: int, channel_id: str) -> None:
        """Post the brief (once: its ts is recorded), pin it and set the topic."""
        with self.sessions() as db:
            crisis = db.get_one(Crisis, crisis_id)
            drawn = volume(db, [link.case_id for link in crisis.links])
            message = views.brief(crisis, drawn, self.org, self.team_url, self.every(crisis))
            ts, topic = crisis.brief_ts, views.topic(crisis, self.org, self.every(crisis))
        if ts is None:
            ts = self.post(channel_id, message)["ts"]
            with self._unit() as db:
                war_rooms.brief_posted(db=db, crisis_id=crisis_id, ts=ts)
        try:
            self.client.pins_add(channel=channel_id, timestamp=ts)
        except SlackApiError as error:
            if _error(error) != "already_pinned":
                raise
        self.client.conversations_setTopic(channel=channel_id, topic=topic)

    # --- running the crisis -----------------------------------------------------------------

    def announce_update(self, crisis_id: int, update_id: int) -> None:
        """The update, in the war room and in the rapid-response channel."""
        with self.sessions() as db:
            crisis = db.get_one(Crisis, crisis_id)
            update, every = db.get_one(CrisisUpdate, update_id), self.every(crisis)
            here = views.update_message(crisis, update, self.org, every)
            there = views.update_message(crisis, update, self.org, every, war_room=False)
            channel_id = crisis.channel_id
        if channel_id:
            self.post(channel_id, here)
        self.post(self.rapid_channel, there)

    def role_given(self, crisis_id: int, role: CrisisRoleName, holder: str, by: str) -> None:
        """Tell the war room, bring the holder in, and send them the role's instructions."""
        with self.sessions() as db:
            crisis = db.get_one(Crisis, crisis_id)
            every, channel_id = self.every(crisis), crisis.channel_id
            duties = views.role_instructions(crisis, role, every, self.command)
            topic = views.topic(crisis, self.org, every)
        if channel_id:
            self.invite(channel_id, [holder])
            self.say(channel_id, views.role_note(role.value, holder, by, self.org))
            if role == CrisisRoleName.LEAD:
                self.client.conversations_setTopic(channel=channel_id, topic=topic)
        self.dm(holder, duties)

    def case_linked(self, crisis_id: int, case_id: int, by: str) -> None:
        """A line in the war room; the leads of the case's departments are invited."""
        with self.sessions() as db:
            crisis, case = db.get_one(Crisis, crisis_id), db.get_one(Case, case_id)
            note, leads = (
                views.linked_note(case, by, self.org, self.team_url),
                self.leads_of([case]),
            )
            channel_id = crisis.channel_id
        if channel_id:
            self.invite(channel_id, leads)
            self.say(channel_id, note)

    def post_closing(self, crisis_id: int) -> None:
        """The closing summary (the LLM's when configured) and the timeline, posted in the war
        room and in the rapid-response channel with a button to archive the war room."""
        with self.sessions() as db:
            story = timeline(db, crisis_id)
            channel_id = db.get_one(Crisis, crisis_id).channel_id
        summary, origin = self.summarise(story)
        with self._unit() as db:
            crises.record_summary(
                db=db, crisis_id=crisis_id, text=summary, origin=origin, now=self.clock()
            )
        message = views.closing_message(story, summary, origin, self.org, channel_id)
        for channel in (channel_id, self.rapid_channel):
            if channel:
                self.post(channel, message)

    def summarise(self, story: Timeline) -> tuple[str, str]:
        """(summary, origin): the LLM's if it gives a usable one, else the plain one."""
        if self.llm is not None:
            try:
                text = self.llm.write(render_summary_prompt(story.as_data(self._name))).strip()
            except LlmError as error:
                log.warning("crisis %s: no LLM summary (%s); a plain one instead", story.id, error)
            else:
                if (problem := summary_problem(text)) is None:
                    return text, f"llm ({self.llm.model})"
                log.warning("crisis %s: LLM summary refused: %s", story.id, problem)
        return views.plain_summary(story, self.org), "plain"

    def _name(self, slack_id: str | None) -> str:
        known = self.org.people.get(slack_id or "")
        return known.name if known and known.name else slack_id or ""

    def archive(self, channel_id: str) -> None:
        try:
            self.client.conversations_archive(channel=channel_id)
        except SlackApiError as error:
            if _error(error) != "already_archived":
                raise

    # --- the ticker -------------------------------------------------------------------------

    def tick(self) -> None:
        """Continue the war-room setups whose lease ran out, and remind the silent war rooms:
        both claimed in one short transaction (on SQLite every transaction takes the write lock),
        then done in Slack."""
        now = self.clock()
        with self._unit() as db:
            setups = war_rooms.claim_setups(db=db, now=now, lease=self.setup_lease)
            due = war_rooms.claim_reminders(db=db, cadence=self.cadence, now=now)
            reminders = [(c.id, c.channel_id, self._reminder(c, now)) for c in due]
        for crisis_id in setups:
            self.set_up(crisis_id)
        for crisis_id, channel_id, text in reminders:
            self._remind(crisis_id, channel_id, text, now)

    def _reminder(self, crisis: Crisis, now: datetime) -> str:
        return views.reminder(crisis, now, self.every(crisis), self.command)

    def _remind(self, crisis_id: int, channel_id: str, text: str, now: datetime) -> None:
        """Send a claimed reminder: it was committed first, so it never goes twice; one Slack
        refuses is due again a minute later."""
        try:
            self.say(channel_id, text)
        except SlackApiError as error:
            log.warning("crisis %s: reminder refused (%s); again soon", crisis_id, _reason(error))
            with self._unit() as db:
                retry_at = now + REMINDER_RETRY
                war_rooms.reminder_failed(db=db, crisis_id=crisis_id, retry_at=retry_at)
        except NETWORK_ERRORS as error:  # it may be out: never sent twice
            log.warning("crisis %s: reminder may not have reached Slack: %s", crisis_id, error)

    # --- Slack ------------------------------------------------------------------------------

    def post(self, channel: str, message: Message) -> dict:
        unfurl = {"unfurl_links": False, "unfurl_media": False}  # links in posts are not ours
        response = self.client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks, **unfurl
        )
        return response.data

    def say(self, channel: str, text: str) -> None:
        self.client.chat_postMessage(channel=channel, text=text, unfurl_links=False)

    def dm(self, user: str, message: Message) -> None:
        opened = self.client.conversations_open(users=user)
        self.post(opened["channel"]["id"], message)

    def _unit(self):
        return unit_of_work(self.sessions)


def numbered(base: str, n: int) -> str:
    """The n-th name to try: the base, then base-2, base-3..., within Slack's 80 characters."""
    suffix = "" if n == 1 else f"-{n}"
    return base[: NAME_LIMIT - len(suffix)].rstrip("-_") + suffix


def _error(error: SlackApiError) -> str:
    return str(error.response.get("error") or "")


def _reason(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return f"Slack answered {_error(error) or error.response.status_code}"
    return str(error) or type(error).__name__
