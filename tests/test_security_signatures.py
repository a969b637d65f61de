"""Every HTTP path that acts checks who sent the request: unsigned, forged and stale requests
get 401 and change nothing, in the database or in Slack; the GET paths only look.

The paths come from the running replica's own route table (`WebApp.routes()` and Slack's
path), so a path added later is tried here too, or this test says it does not know how it is
signed.
"""

from __future__ import annotations

import json
import time

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.fakeslack import SlackDriver
from bot.web import SLACK_PATH
from escalation.models import Base, Case
from tests.support import (
    BOT_TOKEN,
    INGEST_SECRET,
    SIGNING_SECRET,
    mention_record,
    post_ingest,
    request,
    wait_until,
)

AMIRA, BEN, SAM = "U0AMIRA01", "U0BEN0001", "U0SAM0001"
TRIAGE = "social-triage"
WAYS = ("unsigned", "forged", "stale")
STALE_SECONDS = 6 * 60  # Slack's and the webhook's window is 5 minutes


class TamperingDriver(SlackDriver):
    """Shapes every request as Slack would, then signs it `how`: properly (None), not at all,
    with another secret, or properly but six minutes ago (a replayed capture)."""

    how: str | None = None

    def send(self, body, content_type, headers=None, timestamp=None, signature=None):
        stamp = int(time.time())
        if self.how == "unsigned":
            signature = ""
        elif self.how == "forged":
            signature = SignatureVerifier("not-the-signing-secret").generate_signature(
                timestamp=str(stamp), body=body
            )
        elif self.how == "stale":
            stamp -= STALE_SECONDS  # signed with the right secret, for that old moment
        return super().send(body, content_type, headers, timestamp=stamp, signature=signature)


def database(sessions) -> dict[str, list[str]]:
    """Every row of every table, as text: equal snapshots mean nothing was stored or changed."""
    with sessions() as db:
        return {
            table.name: sorted(repr(tuple(row)) for row in db.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def slack_calls(fake) -> list[tuple[str, str]]:
    return [(c.method, json.dumps(c.params, sort_keys=True, default=str)) for c in fake.calls()]


def settled(replica) -> bool:
    return request(f"{replica.url}/healthz").body["outbox_pending"] == 0


def card(replica, fake, n: int) -> str:
    assert post_ingest(replica.url, mention_record(n)).status == 202
    return wait_until(
        lambda: next((m["ts"] for m in fake.messages(TRIAGE) if f"@user{n}:" in m["text"]), None)
    )


def slack_requests(driver: TamperingDriver, claim_ts: str) -> dict[str, object]:
    """Each kind of request Slack sends, as one that would act if it were believed."""
    return {
        "click": lambda: driver.click(BEN, TRIAGE, claim_ts, "case-claim"),
        "command": lambda: driver.command(SAM, "/social", "digest"),
        "event": lambda: driver.open_home(AMIRA),
        "submission": lambda: driver.submit(AMIRA, values={"outcome": "spam"}),
        "shortcut": lambda: driver.message_shortcut(AMIRA, TRIAGE, claim_ts, "message-escalate"),
    }


def ingest_request(replica, how: str | None):
    """One new mention for the webhook, signed `how` (properly when None)."""
    record, stale = mention_record(99), str(int(time.time()) - STALE_SECONDS)
    signed = {
        None: {},
        "unsigned": {"secret": None},
        "forged": {"secret": "not-the-ingest-secret"},
        "stale": {"stamp": stale},
    }[how]
    return post_ingest(replica.url, record, **signed)


def digests(fake) -> list:
    return [c for c in fake.calls("response_url") if "Digest" in str(c.params)]


def modals(fake, user: str) -> list[str]:
    return [v["callback_id"] for v in fake.views(user) if v["type"] == "modal"]


def test_every_path_that_acts_refuses_unsigned_forged_and_stale_requests(
    start_replica, fake_slack, sessions
):
    replica = start_replica()
    routes = replica.web.routes()
    assert {method for _, method in routes} <= {"GET", "POST"}, routes
    acting = {SLACK_PATH} | {path for path, method in routes if method == "POST"}
    driver = TamperingDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    claim_ts, resolve_ts = card(replica, fake_slack, 1), card(replica, fake_slack, 2)
    tries = {
        SLACK_PATH: slack_requests(driver, claim_ts),
        "/ingest": {"mention": lambda: ingest_request(replica, driver.how)},
    }
    assert acting == set(tries), "every path that acts is tried here with bad signatures"
    driver.click(AMIRA, TRIAGE, resolve_ts, "case-resolve")  # a modal she may submit
    wait_until(lambda: fake_slack.views(AMIRA))
    wait_until(lambda: settled(replica))
    stored, sent = database(sessions), slack_calls(fake_slack)

    answers = {}
    for how in WAYS:
        driver.how = how
        for path, kinds in tries.items():
            for kind, attempt in kinds.items():
                answers[(path, kind, how)] = attempt().status
    assert answers == dict.fromkeys(answers, 401)
    assert len(answers) == len(WAYS) * 6
    time.sleep(1)  # anything a believed request set off would have reached Slack by now
    assert database(sessions) == stored
    assert slack_calls(fake_slack) == sent

    # The same requests, signed, do act: the refusals above were the signatures' doing.
    driver.how = None
    honest = {
        (path, kind): attempt().status
        for path, kinds in tries.items()
        for kind, attempt in kinds.items()
    }
    assert honest == {(path, kind): 202 if path == "/ingest" else 200 for path, kind in honest}
    wait_until(lambda: fake_slack.home(AMIRA))
    wait_until(lambda: digests(fake_slack))
    assert wait_until(lambda: modals(fake_slack, AMIRA)[1:]) == ["message-escalate-modal"]
    with sessions() as db:
        owners = dict(db.execute(select(Case.id, Case.owner_id)).all())
        statuses = dict(db.execute(select(Case.id, Case.status)).all())
    assert sorted(owners.values(), key=str) == [None, None, BEN]
    assert sorted(statuses.values()) == ["claimed", "new", "resolved"]


def test_get_paths_only_look_and_tell_no_secrets(start_replica, fake_slack, sessions):
    replica = start_replica()
    card(replica, fake_slack, 1)
    wait_until(lambda: settled(replica))
    stored, sent = database(sessions), slack_calls(fake_slack)
    looking = sorted(path for path, method in replica.web.routes() if method == "GET")
    assert looking == ["/healthz", "/metrics"]
    for path in looking:
        for query in ("", "?case=1&action=claim", "?user=U0BEN0001"):
            answer = request(f"{replica.url}{path}{query}")
            assert answer.status == 200, (path, answer.body)
            shown = json.dumps(answer.body) + json.dumps(answer.headers)
            for secret in (BOT_TOKEN, SIGNING_SECRET, INGEST_SECRET):
                assert secret not in shown, path
    time.sleep(0.5)
    assert database(sessions) == stored
    assert slack_calls(fake_slack) == sent


def test_nothing_else_is_served(start_replica, fake_slack, sessions):
    """Only the route table and Slack's POST answer: anything else is 404 or 405, and acts not."""
    replica = start_replica()
    stored, sent = database(sessions), slack_calls(fake_slack)
    served = set(replica.web.routes()) | {(SLACK_PATH, "POST")}
    paths = {path for path, _ in served} | {"/", "/admin", "/ingest/", "/slack/events/", "/slack"}
    body = json.dumps(mention_record(5)).encode()
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        for path in sorted(paths):
            if (path, method) in served:
                continue
            sending = body if method != "GET" else None
            answer = request(f"{replica.url}{path}", sending, method=method)
            assert answer.status in (404, 405), (method, path, answer.status)
    time.sleep(0.3)
    assert database(sessions) == stored
    assert slack_calls(fake_slack) == sent
