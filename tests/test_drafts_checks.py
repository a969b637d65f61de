"""The checks every reply draft goes through: each rule with drafts that pass and drafts that
fail, the template drafter, and the guide's own examples."""

from __future__ import annotations

import pytest

from escalation.drafts import (
    Draft,
    DraftContext,
    DraftSet,
    TemplateBook,
    check_draft,
    context_for,
    intent_of,
    personal_data,
    sign_off_for,
    template_drafts,
)
from escalation.models import Mention
from prompts.render import load_guide

GUIDE = load_guide()
RULES = GUIDE.rules
PII_MENTION = (
    "@BrightwaveHelp account 88123456 still wrong. Call me on 07700 900123 or jo.b@mailbox.example,"
    " I'm at 12 Hart Road, LE1 1AA"
)


def context(mention: str = "", **overrides: str) -> DraftContext:
    values = {"platform": "x", "customer_handle": "jo_bloggs", "sentiment": "neutral"}
    values |= overrides
    return DraftContext(
        platform=values["platform"],
        mention_text=mention,
        customer_handle=values["customer_handle"],
        sign_off="^AB",
        rules=RULES,
        sentiment=values["sentiment"],
        department=values.get("department", "care"),
    )


def rules_broken(text: str, mention: str = "", **overrides: str) -> set[str]:
    return {p.rule for p in check_draft(Draft(text=text), context(mention, **overrides))}


CASES = {
    "sign_off": (
        ["Thanks for the update! ^AB", "Sorry about that.\n^AB", "Thanks ^AB  "],
        ["Thanks for the update!", "^AB thanks for the update", "Thanks ^AC", "Thanks^AB"],
    ),
    "banned_phrase": (
        ["Sorry for the trouble. ^AB", "We'll check this as part of your DM. ^AB"],
        [
            "We apologise for any inconvenience caused. ^AB",
            "We apologize for any   inconvenience. ^AB",
            "As per our policy, please DM us. ^AB",
            "Unfortunately there's nothing we can do. ^AB",
            "Unfortunately, there is nothing we can do here ^AB",
        ],
    ),
    "promise": (
        [
            "Sorry the refund hasn't arrived yet. Please DM us and our Billing team will look into "
            "it. ^AB",
            "Our Billing team will look into the charges with you. ^AB",
            "We can't promise anything in public, sorry. ^AB",
        ],
        [
            "We'll refund you in full. ^AB",
            "You will receive a credit on your next bill. ^AB",
            "We can offer you some compensation for this. ^AB",
            "Your refund has been approved. ^AB",
            "Enjoy 3 months free on us. ^AB",
            "We'll waive the cancellation fee. ^AB",
            "Billing will sort your money back today. ^AB",
            "We'll cover the cost of the repair. ^AB",
        ],
    ),
    "liability": (
        [
            "Sorry, we've let you down here and we'll put it right. ^AB",
            "There's a fault on the line, and we're on it. ^AB",
        ],
        [
            "This is our fault. ^AB",
            "Sorry, that's on us. ^AB",
            "We accept full responsibility for the damage. ^AB",
            "We are liable for what happened. ^AB",
            "We admit the engineer was careless. ^AB",
            "It was our mistake, sorry. ^AB",
        ],
    ),
    "blame": (
        ["We'll look into this for you. ^AB"],
        [
            "That's Openreach's fault, not ours. ^AB",
            "You should have called us first. ^AB",
            "Don't blame us, blame the weather. ^AB",
            "That is down to another team, sorry. ^AB",
        ],
    ),
    "handle": (
        [
            "@jo_bloggs thanks for that! ^AB",
            "Follow @BrightwaveHelp for updates ^AB",
            "@brightwave is our main account ^AB",
        ],
        ["Ask @refund_desk about it ^AB", "Thanks @jo_bloggs and @someone_else ^AB"],
    ),
    "link": (
        [
            "See brightwave.co.uk/help for more. ^AB",
            "Try https://help.brightwave.co.uk/reset ^AB",
            "Write to help@brightwave.co.uk if you prefer. ^AB",
        ],
        [
            "Claim it at https://bit.ly/abc ^AB",
            "Visit brightwave-refunds.example/claim ^AB",
            "Go to www.evil.com now ^AB",
            "See https://brightwave.co.uk.evil.com/login ^AB",
        ],
    ),
    "markup": (
        ["Thanks, <3 from us ^AB"],
        ["<!channel> look at this ^AB", "Click <https://evil.example|here> ^AB"],
    ),
    "emoji": (
        ["Thanks so much! 😊 ^AB", "Thanks! 👨‍👩‍👧 ^AB", "Go team 🇬🇧 ^AB", "Thanks :) ^AB"],
        ["Thanks so much! 😊🎉 ^AB", "Great 👍 and thanks ❤️ ^AB"],
    ),
}


@pytest.mark.parametrize(
    ("rule", "text"), [(rule, text) for rule, (good, _) in CASES.items() for text in good]
)
def test_drafts_that_keep_a_rule_pass_it(rule: str, text: str) -> None:
    assert rule not in rules_broken(text)


@pytest.mark.parametrize(
    ("rule", "text"), [(rule, text) for rule, (_, bad) in CASES.items() for text in bad]
)
def test_drafts_that_break_a_rule_fail_it(rule: str, text: str) -> None:
    assert rule in rules_broken(text)


@pytest.mark.parametrize(
    ("platform", "limit"), [("x", 280), ("bluesky", 300), ("mastodon", 500), ("slack", 500)]
)
def test_length_follows_the_platform(platform: str, limit: int) -> None:
    fits = "a" * (limit - 4) + " ^AB"
    assert "length" not in rules_broken(fits, platform=platform)
    problems = check_draft(Draft(text="a" + fits), context(platform=platform))
    assert [p.rule for p in problems] == ["length"]
    assert f"fits {limit}" in problems[0].message


def test_no_emoji_at_all_in_a_complaint() -> None:
    assert "emoji" in rules_broken("Sorry about this 😔 ^AB", sentiment="negative")
    assert "emoji" not in rules_broken("Sorry about this. ^AB", sentiment="negative")


def test_handles_of_the_customer_on_each_network_are_allowed() -> None:
    mastodon = {"platform": "mastodon", "customer_handle": "rosie_h@mas.to"}
    assert not rules_broken("@rosie_h@mas.to thanks! ^AB", **mastodon)
    assert "handle" in rules_broken("@rosie_h@evil.example thanks! ^AB", **mastodon)
    bluesky = {"platform": "bluesky", "customer_handle": "ellie-marsh.bsky.social"}
    assert not rules_broken("Thanks @ellie-marsh.bsky.social. ^AB", **bluesky)


@pytest.mark.parametrize(
    "echo",
    ["88123456", "07700 900123", "07700900123", "jo.b@mailbox.example", "Hart Road", "le1 1aa"],
)
def test_personal_data_from_the_mention_is_never_repeated(echo: str) -> None:
    broken = rules_broken(f"Thanks, we have {echo} on file. ^AB", PII_MENTION)
    assert "personal_data" in broken


def test_a_draft_without_personal_data_passes_and_problems_hide_the_data() -> None:
    assert not rules_broken("Please send us a DM and we'll check. ^AB", PII_MENTION)
    problems = check_draft(Draft(text="Is 88123456 yours? ^AB"), context(PII_MENTION))
    assert "88123456" not in problems[0].message and "account number" in problems[0].message


def test_a_draft_gives_out_no_email_or_phone_number_of_anyone() -> None:
    assert "personal_data" in rules_broken("The last customer was jane@example.com ^AB")
    assert "personal_data" in rules_broken("Ring 0161 496 0000 for help ^AB")
    assert "personal_data" not in rules_broken("Write to help@brightwave.co.uk please. ^AB")


def test_personal_data_is_found_by_kind_and_not_in_links() -> None:
    found = {value: kind for kind, value in personal_data(PII_MENTION)}
    assert found == {
        "jo.b@mailbox.example": "email address",
        "07700 900123": "phone number",
        "LE1 1AA": "postcode",
        "88123456": "account number",
        "Hart Road": "address",
    }
    assert personal_data("see https://clips.example/v/Qk2x8bw, on the road again") == []


def test_legal_matters_get_only_a_holding_line() -> None:
    line = RULES.holding_lines[0]
    assert not rules_broken(f"{line} ^AB", department="legal")
    curly = line.replace("'", "’")
    assert not rules_broken(f"{curly} ^AB", department="legal")
    assert "holding_line" in rules_broken(f"{line} We'll fix it. ^AB", department="legal")
    assert "holding_line" not in rules_broken("Thanks, DM us. ^AB", department="care")


def test_every_problem_is_a_sentence() -> None:
    text = "As per 😀🎉 our fault, we'll refund you at https://x.example @who 88123456"
    problems = check_draft(Draft(text=text), context(PII_MENTION, department="legal"))
    assert len({p.rule for p in problems}) >= 8
    for problem in problems:
        assert problem.message[0].isupper() and problem.message.endswith("."), problem


def test_an_empty_draft_is_one_problem() -> None:
    empty = Draft.model_construct(text="  ", tone="", reason="", flags=[])
    assert [p.rule for p in check_draft(empty, context())] == ["empty"]


def test_sign_off_comes_from_the_initials() -> None:
    assert sign_off_for("ab") == "^AB" and sign_off_for("^JMK") == "^JMK"
    for wrong in ("", "A1", "ABCDE", "A B"):
        with pytest.raises(ValueError):
            sign_off_for(wrong)


def test_a_draft_set_keeps_at_most_three() -> None:
    drafts = DraftSet(drafts=[Draft(text=f"Draft {n} ^AB") for n in range(5)])
    assert len(drafts.drafts) == 3 and drafts.origin == "llm"


# --- templates ---------------------------------------------------------------------------


@pytest.mark.parametrize("department", sorted(GUIDE.departments))
@pytest.mark.parametrize("sentiment", ["negative", "neutral", "positive", None])
@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon", "slack"])
def test_template_drafts_pass_the_checks(department: str, sentiment: str, platform: str) -> None:
    mention = Mention(
        source=platform, text=PII_MENTION, author_handle="jo_bloggs", sentiment=sentiment
    )
    ctx = context_for(mention, rules=RULES, agent_initials="ab", department=department)
    drafts = template_drafts(GUIDE.templates, ctx)
    assert drafts.origin == "template" and 2 <= len(drafts.drafts) <= 3
    for draft in drafts.drafts:
        assert check_draft(draft, ctx) == [], draft.text
        assert draft.text.endswith(" ^AB")


def test_an_unknown_department_gets_care_templates() -> None:
    mention = Mention(source="x", text="hi", author_handle="a", sentiment="neutral")
    ctx = context_for(mention, rules=RULES, agent_initials="AB", department="nowhere")
    care = context_for(mention, rules=RULES, agent_initials="AB", department="care")
    assert template_drafts(GUIDE.templates, ctx) == template_drafts(GUIDE.templates, care)


def test_intent_follows_sentiment() -> None:
    assert [intent_of(s) for s in ("negative", "positive", "neutral", None)] == [
        "complaint",
        "praise",
        "question",
        "question",
    ]


def test_a_template_book_must_be_complete() -> None:
    one = [{"text": "Hi {sign_off}"}, {"text": "Hello {sign_off}"}]
    good = {"care": {"complaint": one, "question": one, "praise": one}}
    assert TemplateBook.from_mapping(good).departments["care"]["praise"][0].text == "Hi {sign_off}"
    broken = {"care": {"complaint": one[:1], "question": [{"text": "Hi ^AB"}] * 2}}
    with pytest.raises(ValueError) as error:
        TemplateBook.from_mapping(broken)
    message = str(error.value)
    assert "care.complaint: needs two or three drafts" in message
    assert "care.question: draft 1 does not end with {sign_off}" in message
    assert "care.praise: missing" in message


def test_the_guides_examples_pass_the_checks() -> None:
    for example in GUIDE.examples:
        ctx = context(example["mention"], platform=example["platform"])
        for draft in example["drafts"]:
            assert check_draft(Draft.model_validate(draft), ctx) == [], draft["text"]
