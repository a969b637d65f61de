"""The local workspace in a real browser: headless Chromium, driven by Playwright.

The page only talks to the fake workspace, which sends each click, submission and command to the
bot's /slack/events as Slack would; the bot runs as against Slack (only SLACK_API_URL differs).
Set README_SCREENSHOT=docs/local-workspace.png to refresh the README's picture.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from bot.local import LocalWorkspace
from bot.settings import Settings
from tests.support import EXAMPLE_ORG, ORG, ROOT, mention_record, post_ingest

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    reason = "Debian's chromium is not installed (.ci/run installs it)"
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)

AMIRA, BEN, TOM, SAM = "U0AMIRA01", "U0BEN0001", "U0TOM0001", "U0SAM0001"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def local(request, database_url, engine):
    assert engine is not None  # its side effect: the tables start empty
    org = ORG
    if "digest_at_midnight" in request.fixturenames:
        org = request.getfixturevalue("digest_at_midnight")
    settings = Settings(
        host="127.0.0.1",
        port=0,
        bot_config=ROOT / "config.example.yaml",
        delivery_poll_seconds=0.1,
        nag_tick_seconds=0.2,
    )
    workspace = LocalWorkspace.start(settings, org, database_url=database_url)
    yield workspace
    workspace.stop()


@pytest.fixture
def person(browser, local):
    """person(user) opens the page as that person, as a new browser would."""
    contexts = []

    def open_as(user: str, channel: str = ""):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        target = f"{local.page_url}#user={user}" + (f"&channel={channel}" if channel else "")
        page.goto(target)
        expect(page.locator("#sidebar")).to_contain_text(ORG.channels.triage)
        return page

    yield open_as
    for context in contexts:
        assert not getattr(context.pages[0], "errors", []) if context.pages else True
        context.close()


def ingest(local, n: int, **overrides) -> dict:
    record = mention_record(n, **overrides)
    assert post_ingest(local.replica.url, record, secret=local.ingest_secret).status == 202
    return record


def card(page, text: str):
    return page.locator("#messages article.message", has_text=text)


def test_a_claim_shows_live_to_another_person(local, person):
    amira, ben = person(AMIRA), person(BEN)
    ingest(local, 1, text="My broadband keeps dropping every evening, please help")
    mine = card(amira, "keeps dropping every evening")
    expect(mine).to_be_visible()
    expect(mine.get_by_role("button", name="Claim")).to_be_visible()

    mine.get_by_role("button", name="Claim").focus()  # by keyboard, as a person tabbing would
    amira.keyboard.press("Enter")

    theirs = card(ben, "keeps dropping every evening")
    expect(theirs).to_contain_text("Claimed by Amira Khan")  # Ben's page, without a reload
    expect(mine).to_contain_text("Claimed by Amira Khan")

    theirs.get_by_role("button", name="Take over").click()  # Slack asks first, as told to
    dialog = ben.get_by_role("dialog", name="Take over this case?")
    expect(dialog).to_contain_text("Amira Khan owns it")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(theirs).to_contain_text("Claimed by Amira Khan")  # nothing was sent
    theirs.get_by_role("button", name="Take over").click()
    ben.get_by_role("dialog", name="Take over this case?").get_by_role("button", name="Yes").click()
    expect(mine).to_contain_text("Claimed by Ben Carter")
    assert not amira.errors and not ben.errors


def test_escalate_then_the_lead_acknowledges(local, person):
    amira = person(AMIRA)
    ingest(local, 2, text="You charged me twice for November, refund the second payment")
    mine = card(amira, "charged me twice")
    mine.get_by_role("combobox").select_option(label="Billing & Payments")

    modal = amira.locator("#modal")
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Escalate").click()  # the question left empty
    expect(modal.locator(".input-error")).to_have_count(1)
    question = modal.get_by_label("What does triage need from Billing & Payments?")
    question.fill("Was the second charge taken?")
    modal.get_by_role("button", name="Escalate").click()
    expect(modal).to_be_hidden()
    expect(mine).to_contain_text("Billing & Payments")

    tom = person(TOM)
    tom.locator("#sidebar").get_by_role("button", name="# esc-billing").click()
    escalation = card(tom, "charged me twice")
    expect(escalation).to_contain_text("Was the second charge taken?")
    escalation.get_by_role("button", name="Acknowledge").click()
    expect(escalation).to_contain_text("Acknowledged by Tom Evans")


def test_drafts_land_in_the_thread(local, person):
    amira = person(AMIRA)
    ingest(local, 3, text="How do I change the date my bill is paid?")
    mine = card(amira, "change the date my bill")
    mine.get_by_role("button", name="Suggest reply").click()
    replies = mine.get_by_role("button", name=re.compile(r"\d+ repl"))
    expect(replies).to_be_visible()
    replies.click()
    thread = amira.locator("#thread")
    expect(thread).to_be_visible()
    expect(thread).to_contain_text("draft")
    expect(thread.get_by_role("button", name="Edit…").first).to_be_visible()


def test_rapid_declare_opens_a_war_room(person):
    amira = person(AMIRA)
    composer = amira.locator("#composer-text")
    composer.fill("/rap")
    expect(amira.locator("#command-hints")).to_contain_text("/rapid")
    composer.fill("/rapid declare Hull broadband outage")
    composer.press("Enter")

    modal = amira.locator("#modal")
    expect(modal).to_contain_text("Declare a crisis")
    expect(modal.get_by_label("Title")).to_have_value("Hull broadband outage")
    modal.get_by_label("What is happening?").fill("Fibre cut near Hessle Road; 4,000 homes off")
    modal.get_by_role("button", name="Declare").click()
    expect(modal).to_be_hidden()
    room = amira.locator("#sidebar").get_by_role("button", name=re.compile("hull-broadband-outage"))
    expect(room).to_be_visible()
    room.click()
    expect(amira.locator("#messages")).to_contain_text("Hull broadband outage")


def test_hostile_text_stays_text_and_the_readme_picture(local, person, tmp_path):
    amira = person(AMIRA)
    ingest(local, 4, text="Engineer never turned up for my installation, third time now")
    ingest(local, 5, text="<!channel> look at <script>alert(1)</script> and <https://x.test|me>")
    ingest(local, 6, text="Your roaming charges in Spain are a scandal, £48 for one day")
    hostile = card(amira, "look at")
    expect(hostile).to_contain_text("<!channel>")  # shown as typed, never as a broadcast
    expect(hostile).to_contain_text("<script>alert(1)</script>")
    assert hostile.locator(".mention.broadcast").count() == 0
    assert hostile.locator("script").count() == 0
    assert hostile.locator("a", has_text="me").count() == 0  # a link only the bot may write

    card(amira, "third time now").get_by_role("button", name="Claim").click()
    roaming = card(amira, "roaming charges")
    roaming.get_by_role("button", name="Suggest reply").click()
    roaming.get_by_role("button", name=re.compile(r"\d+ repl")).click()
    expect(amira.locator("#thread")).to_contain_text("draft")
    expect(card(amira, "third time now")).to_contain_text("Claimed by Amira Khan")
    shot = Path(os.environ.get("README_SCREENSHOT") or tmp_path / "local-workspace.png")
    amira.mouse.move(0, 0)  # no hover menu in the picture
    amira.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


@pytest.fixture
def digest_at_midnight():
    """Sam's digest due since 00:00 London: the bot sends today's as soon as it starts."""
    data = EXAMPLE_ORG.model_dump()
    data["people"]["sam"]["digest"] = {"at": "00:00", "timezone": "Europe/London"}
    return type(EXAMPLE_ORG).model_validate(data)


@pytest.mark.usefixtures("digest_at_midnight")
def test_digest_chart_ephemeral_answer_and_app_home(person):
    sam = person(SAM)
    sam.locator("#sidebar").get_by_role("button", name="Social Escalation").click()
    expect(sam.locator("#messages .home")).to_contain_text("Unclaimed")

    sam.get_by_role("tab", name="Messages").click()
    chart = sam.locator("#messages figure.file img")
    expect(chart).to_be_visible(timeout=20_000)
    loaded = "image => image.complete && image.naturalWidth > 100"  # the PNG itself, drawn
    sam.wait_for_function(f"({loaded})(document.querySelector('#messages figure.file img'))")
    expect(sam.locator("#messages")).to_contain_text("digest")

    sam.locator("#sidebar").get_by_role("button", name="# social-triage").click()
    sam.locator("#composer-text").fill("/social digest today")
    sam.locator("#composer-text").press("Enter")
    answer = sam.locator("#messages article.ephemeral")
    expect(answer).to_contain_text("Only visible to you")
    answer.get_by_role("button", name="Dismiss message").click()
    expect(answer).to_have_count(0)
