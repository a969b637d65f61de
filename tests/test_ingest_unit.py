"""Signing and parsing of POST /ingest, without a server."""

from __future__ import annotations

import json
import time

import pytest

from bot.ingest import IngestError, parse, sign, verify

SECRET = "ingest-test-secret"
BODY = json.dumps(
    {
        "source": "x",
        "external_id": "1",
        "author": {"handle": "a"},
        "text": "hi",
        "created_at": "2026-11-02T08:00:00Z",
    }
).encode()


def test_a_fresh_signature_verifies():
    now = time.time()
    stamp = str(int(now))
    verify(SECRET, stamp, sign(SECRET, stamp, BODY), BODY, now)


@pytest.mark.parametrize(
    ("stamp_offset", "secret", "body", "reason"),
    [
        (0, "another-secret", BODY, "does not match"),
        (-301, SECRET, BODY, "stale"),
        (301, SECRET, BODY, "stale"),
        (0, SECRET, BODY + b" ", "does not match"),
    ],
)
def test_forged_stale_or_altered_requests_are_refused(stamp_offset, secret, body, reason):
    now = time.time()
    stamp = str(int(now) + stamp_offset)
    with pytest.raises(IngestError, match=reason) as caught:
        verify(SECRET, stamp, sign(secret, stamp, BODY), body, now)
    assert caught.value.status == 401


def test_missing_headers_are_refused():
    with pytest.raises(IngestError, match="missing"):
        verify(SECRET, None, None, BODY, time.time())


def test_parse_names_the_bad_field():
    record = json.loads(BODY)
    record["author"]["followers"] = "many"
    with pytest.raises(IngestError) as caught:
        parse(json.dumps(record).encode())
    assert caught.value.status == 400 and caught.value.field == "author.followers"


def test_parse_accepts_a_full_record():
    record = json.loads(BODY) | {
        "url": "https://x.com/a/status/1",
        "conversation_id": "1",
        "in_reply_to": "0",
        "lang": "en-GB",
    }
    mention = parse(json.dumps(record).encode())
    assert mention.author.handle == "a" and mention.lang == "en-GB"
