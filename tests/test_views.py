"""The triage card is a pure function of the mention: escaped, within Block Kit's limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import load_org_config
from bot.fakeslack.blocks import validate_message
from bot.views.cards import triage_card
from bot.views.text import escape, followers, link
from escalation.models import Case, Mention
from escalation.workflow import CaseStatus

CONTROL = re.compile(r"<(?!!date\^)[!@#]")  # Slack control syntax other than our own dates


ORG = load_org_config(Path(__file__).resolve().parent.parent / "config.example.yaml").directory()


def card_for(**overrides):
    return triage_card(Case(id=1, status=CaseStatus.NEW, mentions=[mention(**overrides)]), ORG)


def mention(**overrides) -> Mention:
    values = {
        "id": 1,
        "source": "x",
        "external_id": "1853",
        "url": "https://x.com/big_phil_79/status/1853",
        "author_handle": "big_phil_79",
        "author_display_name": "Phil",
        "author_followers": 230,
        "author_verified": False,
        "text": "@BrightwaveHelp still no internet",
        "posted_at": datetime(2026, 11, 2, 8, 6, 56, tzinfo=UTC),
    }
    return Mention(**(values | overrides))


def all_text(card) -> str:
    return card.text + json.dumps(card.blocks, ensure_ascii=False)


def test_escape_makes_control_syntax_inert_ampersand_first():
    assert escape("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    assert escape("&lt;") == "&amp;lt;"


def test_link_cannot_close_early_or_smuggle_a_label():
    rendered = link("https://evil.example/a|brightwave.co.uk>x<y", "Open on X")
    assert rendered.count("|") == 1 and rendered.count("<") == 1 and rendered.count(">") == 1
    assert rendered.endswith("|Open on X>")


@pytest.mark.parametrize(
    ("count", "shown"), [(230, "230"), (9_999, "9,999"), (12_345, "12.3k"), (310_000, "310k")]
)
def test_followers(count, shown):
    assert followers(count) == shown


def test_card_shows_author_source_link_text_and_time():
    card = card_for(author_verified=True, author_followers=52_000)
    rendered = all_text(card)
    assert "*Phil* @big_phil_79 · 52k followers · ✓ verified" in rendered
    assert "> @BrightwaveHelp still no internet" in rendered
    assert "<https://x.com/big_phil_79/status/1853|Open on X>" in rendered
    assert f"<!date^{int(datetime(2026, 11, 2, 8, 6, 56, tzinfo=UTC).timestamp())}^" in rendered
    assert card.text.startswith("New X mention from @big_phil_79: ")
    assert validate_message(card.blocks) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> outage!! <!here> <!everyone>",
        "ping <@U0AMIRA01> and <#C0123|general> and <!subteam^S0LEGAL>",
        "refund at <https://evil.example/login|brightwave.co.uk> now",
    ],
)
def test_hostile_text_notifies_nobody(hostile):
    card = card_for(text=hostile, author_display_name="<!channel>")
    assert not CONTROL.search(all_text(card))
    assert "&lt;!channel&gt;" in all_text(card)


@pytest.mark.parametrize("length", [3000, 10_000])
def test_long_mentions_stay_within_block_kit_limits(length):
    text = ("Fix it & <now> " * 1000)[:length]
    card = card_for(text=text)
    assert validate_message(card.blocks) == []
    sections = [b["text"]["text"] for b in card.blocks if b["type"] == "section"]
    quoted = "".join(s for s in sections if s.startswith(">"))
    assert quoted.replace("> ", "").replace("&lt;", "<").replace("&gt;", ">").replace(
        "&amp;", "&"
    ) == text.strip("\n")
    assert len(card.text) < 300
