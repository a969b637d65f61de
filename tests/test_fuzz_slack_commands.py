"""Fuzzing the bot's slash commands, Events API deliveries and request signatures through the
real HTTP server.

A signed command or event is acknowledged (200; 404 for an event the bot does not listen to)
and its listener ends without an unexpected error; a request Slack did not sign, or signed
too long ago, is refused (401, or 400 when it cannot even be read) and reaches no listener.
Never a 5xx, and the replica keeps serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.fakeslack import SlackDriver
from handlers.payloads import BadPayload
from tests.fuzz_support import fuzz, fuzzed_replica, unexpected
from tests.support import ORG, SIGNING_SECRET, mention_record, post_ingest, wait_until

STRANGER = "U0STRANGER1"
PEOPLE = [p.slack_id for p in ORG.people.values()] + [STRANGER]
CHANNELS = (None, "social-triage", "rapid-response")  # None: the person's DM with the bot
COMMANDS = ("/rapid", "/social")
VERBS = ("declare", "status", "update", "role", "link", "close", "help", "digest", "DIGEST", "")
ARGUMENTS = (
    "today",
    "yesterday",
    "7d",
    "lead <@U0AMIRA01>",
    "comms <@U0STRANGER1|somebody>",
    "scribe <@UNOBODY99>",
    "1",
    "#2",
    "case 1",
    "99999999999999999999",
    "2147483648",
    "\u00b2",
    "\u0661\u0662",
    "<https://x.com/user1/status/18000001>",
    "<https://brightwave.slack.com/archives/C0TRIAGE1/p1700000000000100|card>",
    "https://brightwave.slack.com/archives/C0X/p1700000000000100?thread_ts=1700000000.000100",
    "<!channel> Ignore previous instructions",
    "x" * 3000,
)
texts = st.one_of(
    st.builds(
        "{} {}".format,
        st.sampled_from(VERBS),
        st.sampled_from(ARGUMENTS) | st.text(max_size=60),
    ),
    st.text(max_size=300),
)


@pytest.fixture(scope="module")
def bot(database_url):
    with fuzzed_replica(database_url) as fuzzed:
        fuzzed.fake.add_user(STRANGER, name="stranger", real_name="Somebody Else")
        for n in (1, 2):
            assert post_ingest(fuzzed.url, mention_record(n)).status == 202
        wait_until(lambda: len(fuzzed.fake.messages("social-triage")) >= 2)
        driver = SlackDriver(fuzzed.fake, bot_url=fuzzed.url, signing_secret=SIGNING_SECRET)
        yield fuzzed, driver


@pytest.fixture(autouse=True)
def still_serving(bot):
    yield
    bot[0].assert_clean(tolerated=(BadPayload,))


@fuzz(60)
@given(
    user=st.sampled_from(PEOPLE),
    command=st.sampled_from(COMMANDS),
    text=texts,
    channel=st.sampled_from(CHANNELS),
)
@example(user="U0SAM0001", command="/rapid", text="declare " + "x" * 3000, channel=None)
@example(user="U0SAM0001", command="/rapid", text="link 99999999999999999999", channel=None)
@example(user="U0SAM0001", command="/rapid", text="link \u0661\u0662", channel=None)
def test_any_command_text_is_answered(bot, user, command, text, channel):
    fuzzed, driver = bot
    answer = driver.command(user, command, text, channel)
    assert answer.status == 200, answer.body
    assert unexpected(fuzzed.settle(), tolerated=(BadPayload,)) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
home_opened = st.fixed_dictionaries(
    {"type": st.just("app_home_opened"), "user": st.sampled_from(PEOPLE)},
    optional={
        "tab": st.sampled_from(["home", "messages", "about"]) | st.text(max_size=10),
        "channel": st.text(max_size=12),
        "view": json_values,
    },
)
other_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "app_mention", "reaction_added", "team_join"])
        | st.text(min_size=1, max_size=20).filter(lambda t: t != "app_home_opened"),
    },
    optional={"user": st.sampled_from(PEOPLE), "text": st.text(), "extra": json_values},
)


@fuzz(40)
@given(event=home_opened | other_events, retry=st.integers(min_value=0, max_value=3))
def test_any_event_is_acknowledged(bot, event, retry):
    fuzzed, driver = bot
    answer = driver.event(event, event_id=f"Ev{time.time_ns()}", retry=retry)
    expected = 200 if event["type"] == "app_home_opened" else 404
    assert answer.status == expected, answer.body
    assert unexpected(fuzzed.settle(), tolerated=(BadPayload,)) == []


@fuzz(15)
@given(challenge=st.text(min_size=1, max_size=100))
def test_the_url_verification_challenge_is_answered(bot, challenge):
    _, driver = bot
    body = {"token": "fake-verification-token", "type": "url_verification"}
    answer = driver.send(json.dumps(body | {"challenge": challenge}).encode(), "application/json")
    assert (answer.status, answer.body) == (200, {"challenge": challenge})


def slack_signature(stamp: str, body: bytes, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + stamp.encode("latin-1") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


header_text = st.text(
    st.characters(codec="latin-1", exclude_categories=["Cc"]), min_size=1, max_size=30
)
# Bodies of no shape Slack sends (Slack's own shapes, signed, are fuzzed above).
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"payload=%7B", b"payload=not-json", b"payload=null", b"null", b"[]"]),
)


@st.composite
def forged(draw):
    """A request Slack would not have sent: no signature, a wrong one, or one too old."""
    body = draw(bodies | st.just(b"command=/rapid&text=status&user_id=U0SAM0001"))
    now = int(time.time())
    old = str(now - draw(st.integers(min_value=310, max_value=10**8)))
    stamp = draw(st.one_of(st.just(old), header_text, st.just("\u00b2"), st.just("9" * 5000)))
    signature = draw(
        st.one_of(
            st.just(slack_signature(old, body)),
            st.just(slack_signature(str(now), body, "another-secret")),
            header_text,
            st.just(""),
        )
    )
    kind = draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded"]))
    return body, kind, stamp, signature


@fuzz(40)
@given(request=forged())
@example(request=(b"\xff\xfe", "application/json", str(int(time.time())), "v0=00"))
@example(request=(b"{}", "application/json", "abc", "v0=00"))
def test_requests_slack_did_not_sign_are_refused(bot, request):
    """401, or 400 for a body that cannot be read at all; either way no listener runs."""
    fuzzed, driver = bot
    body, kind, stamp, signature = request
    ran = fuzzed.listeners.submitted
    answer = driver.send(body, kind, timestamp=stamp, signature=signature)
    assert answer.status in (400, 401), answer.body
    assert fuzzed.listeners.submitted == ran
    assert unexpected(fuzzed.settle()) == []


@fuzz(30)
@given(body=bodies, kind=st.sampled_from(["application/json", "application/x-www-form-urlencoded"]))
def test_signed_bodies_of_no_slack_shape_are_refused_not_failed(bot, body, kind):
    """400 when it cannot be read, 404 when no listener takes it."""
    fuzzed, driver = bot
    stamp = str(int(time.time()))
    answer = driver.send(body, kind, timestamp=stamp, signature=slack_signature(stamp, body))
    assert answer.status in (400, 404), answer.body
    assert unexpected(fuzzed.settle(), tolerated=(BadPayload,)) == []


# --- what the fuzzing found, pinned -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "stamp", "status"),
    [
        (b"\xff\xfe", "application/json", None, 400),  # not UTF-8: waitress answered 500
        (b"{not json", "application/json", None, 400),  # Bolt parses before it verifies
        (b"null", "application/json", None, 400),
        (b"payload=not-json", "application/x-www-form-urlencoded", None, 400),
        (b"{}", "application/json", "abc", 401),  # int(timestamp) in Bolt's check: 500
        (b"{}", "application/json", "\u00b2", 401),
    ],
)
def test_requests_bolt_cannot_read_are_refused_not_failed(bot, body, kind, stamp, status):
    fuzzed, driver = bot
    stamp = str(int(time.time())) if stamp is None else stamp
    assert driver.send(body, kind, timestamp=stamp, signature="v0=00").status == status
    assert unexpected(fuzzed.settle()) == []
