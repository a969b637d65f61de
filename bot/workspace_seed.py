"""Fill a local Slack workspace with the people and channels of the organisation file."""

from __future__ import annotations

from bot.config import OrgConfig, Person
from bot.fakeslack import FakeSlack


def seed_workspace(fake: FakeSlack, org: OrgConfig) -> None:
    """Users for every person; the triage, rapid-response and department channels with members."""
    for key, person in org.people.items():
        fake.add_user(
            person.slack_id,
            name=key,
            real_name=person.name,
            tz=person.timezone or org.timezone,
            title=job_title(org, person),
        )
    everyone = [p.slack_id for p in org.people.values()]
    rapid = [p.slack_id for p in org.people.values() if "rapid" in p.roles]
    fake.add_channel(org.channels.triage, members=everyone)
    fake.add_channel(org.channels.rapid_response, members=rapid)
    for key, dept in org.departments.items():
        members = [p.slack_id for p in org.people.values() if key in p.departments]
        fake.add_channel(dept.channel, members=members)


def job_title(org: OrgConfig, person: Person) -> str:
    """What a profile says: "Lead, Billing & Payments · rapid-action team"."""
    departments = [org.departments[d].name for d in person.departments]
    roles = [str(r) for r in person.roles]
    if "manager" in roles:
        title = "Manager"
    elif "lead" in roles:
        title = f"Lead, {', '.join(departments)}"
    else:
        title = f"Agent, {', '.join(departments)}" if departments else "Agent"
    return title + (" · rapid-action team" if "rapid" in roles else "")
