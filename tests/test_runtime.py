"""The replica polls the sources the organisation switched on, and none otherwise."""

from __future__ import annotations

from bot.delivery import utcnow
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.runtime import social_poller
from tests.support import ORG


def test_no_source_switched_on_means_no_poller(sessions):
    ingestor = Ingestor.for_org(ORG, sessions, Metrics(), utcnow)
    assert social_poller(ORG, sessions, ingestor, "r1") == (None, 60.0)


def test_a_switched_on_source_with_credentials_is_polled(sessions, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-test-bearer-token-0001")
    monkeypatch.setenv("X_USER_ID", "1234567")
    monkeypatch.setenv("SOURCE_POLL_SECONDS", "20")
    data = ORG.model_dump()
    data["sources"] = {"x": {"enabled": True, "account": "brightwave"}}
    org = type(ORG).model_validate(data)
    ingestor = Ingestor.for_org(org, sessions, Metrics(), utcnow)
    poller, every = social_poller(org, sessions, ingestor, "r1")
    assert [source.key for source in poller.sources] == ["x:1234567"]
    assert every == 5.0
