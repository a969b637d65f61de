"""Secrets never reach the logs, whatever happens and however much is logged.

tests/test_logs.py checks the redacting formatter on one record, and tests/test_crash.py
greps a crashed replica's log for the three Slack and webhook secrets. Here a replica runs as
an operator runs it (`python app.py serve`, its output in a file) at LOG_LEVEL=DEBUG with every
secret set, through a whole day's work and its failures: mentions in, Slack answering 500 and
429, forged requests, a claim, an escalation, reply drafts from an LLM that fails, a reply
posted on X that does not say whether it went out, X and Mastodon refusing their tokens, the
digest, the Home tab. Then the whole log is searched for every secret, as it is and encoded.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import pytest
from sqlalchemy import make_url, select

from bot.fakellm import FakeLlm
from bot.fakeslack import SlackDriver
from bot.llm import LlmSettings
from bot.settings import Settings
from bot.sources.settings import SourceSettings
from escalation.models import Case, Mention, Reply
from tests.cassette_server import CassetteServer
from tests.conftest import BACKEND
from tests.support import (
    BOT_TOKEN,
    INGEST_SECRET,
    SIGNING_SECRET,
    ServerProcess,
    example_config_file,
    mention_record,
    post_ingest,
    request,
    wait_until,
)

AMIRA, TOM, SAM = "U0AMIRA01", "U0TOM0001", "U0SAM0001"
TRIAGE = "social-triage"
SECRETS = {  # shaped like the real ones
    "OPENAI_API_KEY": "sk-proj-4f9TzQbKx7LmN2pR8sVw1yHc3dJe6gUa",
    "X_BEARER_TOKEN": "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI",
    "X_API_KEY": "xvz1evFS4wEEPTGEFPHBog",
    "X_API_SECRET": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "X_ACCESS_TOKEN": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "X_ACCESS_TOKEN_SECRET": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    "MASTODON_ACCESS_TOKEN": "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0",
    "BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop",
    "SLACK_APP_TOKEN": None,  # Socket Mode would leave HTTP mode: not set here
}
DB_PASSWORD = "db-pass-Xq7rT2vLm9"
X_USER = "1417049853401378816"


def forms(secret: str) -> set[str]:
    """A secret as it may be written out: as it is, URL-encoded, in Base64."""
    return {
        secret,
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    }


@pytest.fixture
def outside():
    """An LLM that answers 500 to everything, X refusing the bearer token (and answering
    nothing it knows after that), Mastodon refusing its token."""
    with (
        FakeLlm("error") as llm,
        CassetteServer("x_unauthorized.yaml") as x,
        CassetteServer("mastodon_unauthorized.yaml") as mastodon,
    ):
        yield llm, x, mastodon


def serve_env(database_url: str, fake_slack, tmp_path, outside) -> dict[str, str]:
    llm, x, mastodon = outside

    def sources(data: dict) -> None:
        data["sources"]["x"]["enabled"] = data["sources"]["mastodon"]["enabled"] = True

    url = make_url(database_url)
    if BACKEND == "postgresql" and not url.password:  # a server that trusts local connections
        database_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    env = {name: value for name, value in SECRETS.items() if value}
    return env | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INGEST_SECRET": INGEST_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "DATABASE_URL": database_url,
        "BOT_CONFIG": str(example_config_file(tmp_path, change=sources)),
        "LOG_LEVEL": "DEBUG",
        "DELIVERY_POLL_SECONDS": "0.1",
        "CHANNEL_RATE_PER_SECOND": "40",
        "CHANNEL_BURST": "5",
        "NAG_TICK_SECONDS": "0.5",
        "SOURCE_POLL_SECONDS": "1",
        "OPENAI_BASE_URL": llm.url,
        "OPENAI_MODEL": "brightwave-test-model",
        "LLM_MAX_RETRIES": "0",
        "X_USER_ID": X_USER,
        "X_API_URL": x.url,
        "MASTODON_BASE_URL": mastodon.url,
    }


def secrets_in(env: dict[str, str]) -> dict[str, str]:
    """The secrets among the replica's settings, by name."""
    names = (*SECRETS, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "INGEST_SECRET")
    found = {name: env[name] for name in names if env.get(name)}
    if password := make_url(env["DATABASE_URL"]).password:
        found["DATABASE_URL's password"] = password
    return found


def case_of(sessions, n: int) -> tuple[int, str] | None:
    with sessions() as db:
        query = select(Case.id, Case.triage_ts).join(Mention, Mention.case_id == Case.id)
        row = db.execute(query.where(Mention.external_id == f"18{n:06d}")).first()
        return tuple(row) if row and row[1] else None


@pytest.mark.usefixtures("engine")
def test_a_days_work_and_its_failures_log_no_secret(
    database_url, fake_slack, sessions, tmp_path, outside
):
    env = serve_env(database_url, fake_slack, tmp_path, outside)
    llm, x, mastodon = outside
    fake_slack.fail("chat.postMessage", status=500, times=1)
    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=1)
    server = ServerProcess(env, tmp_path / "serve.log")
    try:
        driver = SlackDriver(fake_slack, bot_url=server.url, signing_secret=SIGNING_SECRET)
        for n in (1, 2):
            assert post_ingest(server.url, mention_record(n)).status == 202
        assert post_ingest(server.url, mention_record(3), secret="forged").status == 401
        stale = str(int(time.time()) - 600)
        assert post_ingest(server.url, mention_record(3), stamp=stale).status == 401
        forged = SlackDriver(fake_slack, bot_url=server.url, signing_secret="not-the-secret")
        assert forged.command(SAM, "/social", "digest").status == 401
        case, ts = wait_until(lambda: case_of(sessions, 1), timeout=30)

        driver.click(AMIRA, TRIAGE, ts, "case-claim")
        driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case}|billing")
        wait_until(lambda: fake_slack.views(AMIRA))
        driver.submit(AMIRA, values={"question": "Charged twice?"})
        department = wait_until(lambda: fake_slack.messages("esc-billing"))[0]
        driver.click(TOM, "esc-billing", department["ts"], "escalation-acknowledge")
        driver.click(AMIRA, TRIAGE, ts, "reply-suggest")  # the LLM fails: template drafts
        drafts = wait_until(lambda: [m for m in fake_slack.replies(TRIAGE, ts) if m.get("blocks")
                                     and "reply-use" in str(m["blocks"])])[0]  # fmt: skip
        driver.click(AMIRA, TRIAGE, drafts["ts"], "reply-use")
        card = wait_until(lambda: [m for m in fake_slack.replies(TRIAGE, ts)
                                   if "reply-post" in str(m.get("blocks"))])[0]  # fmt: skip
        driver.click(AMIRA, TRIAGE, card["ts"], "reply-post")
        driver.command(SAM, "/social", "digest")
        driver.open_home(AMIRA)

        def reply_uncertain():
            with sessions() as db:
                return db.scalar(select(Reply.status)) == "uncertain"

        wait_until(reply_uncertain, timeout=30)
        wait_until(lambda: llm.completions() and x.received and mastodon.received, timeout=30)
        wait_until(lambda: request(f"{server.url}/healthz").body["outbox_pending"] == 0)
        wait_until(lambda: fake_slack.home(AMIRA))
    finally:
        server.stop()
    log = server.log_path.read_text()

    # The run went through what it was meant to: failures included.
    assert "listening on port" in log
    statuses = [c.status for c in fake_slack.calls("chat.postMessage")]
    assert 500 in statuses and 429 in statuses
    assert {f"/2/users/{X_USER}/mentions", "/2/tweets"} <= {path for _, path, _ in x.received}
    assert len(log.splitlines()) > 100, "DEBUG logs plenty"

    secrets = secrets_in(env)
    assert len(secrets) >= 11
    for name, secret in secrets.items():
        for written in forms(secret):
            assert written not in log, f"{name} is in the log"


def test_every_secret_setting_is_redacted(monkeypatch):
    """Each settings class names all of its secrets for the log formatter: a secret field
    added later without that fails here."""
    for settings_class in (Settings, SourceSettings, LlmSettings):
        fields = [
            name
            for name, info in settings_class.model_fields.items()
            if "SecretStr" in str(info.annotation)
        ]
        assert fields, settings_class
        values = {name: f"secret-{name}-{n:04d}-value" for n, name in enumerate(fields)}
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value)
        monkeypatch.setenv("X_USER_ID", X_USER)
        redacted = set(settings_class().secret_values())
        assert set(values.values()) <= redacted, settings_class
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://bot:{DB_PASSWORD}@db/socialbot")
    assert DB_PASSWORD in Settings().secret_values()
