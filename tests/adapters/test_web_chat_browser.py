"""The web chat in headless Chromium against the real server: pick a school, ask, see the
cited clause and its stance; markup in data renders as text; the token is asked for once."""
from __future__ import annotations

import os
import re


import pytest

from bot.config import Settings
from tests.adapters.test_delivery_truth import with_contacts
from tests.bot.escalations.conftest import smtp_server  # noqa: F401 - a fixture
from tests.conftest import REPO, TODAY, write

from .conftest import with_

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 420, "height": 900})  # a phone-sized window
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        await browser.close()
        assert not errors, errors


async def test_pick_a_school_ask_and_see_the_cited_clause_and_stance(page, serve_app, settings):
    from playwright.async_api import expect

    base, _ = await serve_app(settings)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await expect(page.locator("#school-info")).to_contain_text("Headteacher/Principal")
    await page.fill("#question", "can I add a pupil's mum on my personal facebook?")
    await page.click("#ask-button")

    answer = page.locator("article.msg.bot").last
    await expect(answer.locator(".badge")).to_have_text("Answer from your policy")
    first = answer.locator("blockquote.clause").first
    await expect(first.locator(".clause-id")).to_have_text("5.4")
    await expect(first.locator(".stance")).to_have_text("Stance: must not")
    await expect(first).to_contain_text("Staff members must not have any contact with pupils' family members")
    await expect(answer.locator(".confidence")).to_contain_text("Confidence")
    await expect(answer.locator(".route")).to_contain_text("Headteacher/Principal")
    await expect(answer.locator(".ask-lead")).to_have_count(0)  # no escalation store yet

    # A second school, whose policy is past its review date: the warning is shown.
    await page.select_option("#school", "kingsmead")
    await page.fill("#question", "can I friend an ex-pupil who is 18?")
    await page.click("#ask-button")
    answer = page.locator("article.msg.bot").last
    await expect(answer.locator(".warning")).to_contain_text("Review date passed")
    await expect(answer.locator(".clause-id").first).to_have_text("1.2")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-chat.png"), full_page=True)
    assert (ARTIFACTS / "web-chat.png").stat().st_size > 1000


async def test_urgent_is_shown_prominently(page, serve_app, settings):
    from playwright.async_api import expect

    base, _ = await serve_app(settings)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=lzw]")).to_have_count(1)
    await page.select_option("#school", "lzw")
    await page.fill("#question", "a pupil told me an adult online is asking her for nude photos")
    await page.click("#ask-button")
    urgent = page.locator("article.decision-urgent")
    await expect(urgent.locator(".badge")).to_have_text("URGENT: live safeguarding concern")
    await expect(urgent).to_contain_text("999")


MARKUP_SCHOOL = """
    slug: alpha
    name: Alpha <i>Primary</i>
    lead: {role: Online <b>Safety</b> Lead, name: Ms A Lead}
    deputy: {role: Headteacher}
    policies: [social-media]
"""

MARKUP_POLICY = """
    id: social-media
    school: alpha
    title: Alpha <u>Social</u> Media Policy
    next_review: September 2030
    clauses:
      - id: "2.1"
        section: 2 Photographs <b>and</b> <img src=x onerror="window.__xss=2">
        text: Photographs of pupils must never be posted on personal accounts.
        about: [pics of my class on my facebook]
      - id: "2.2"
        section: 2 Photographs <b>and</b> <img src=x onerror="window.__xss=2">
        text: Staff may share photographs of school events on the school's official page.
      - id: "3.1"
        section: 3 Contact with pupils
        text: Staff must not accept friend requests from current pupils on any social network.
"""


async def test_markup_in_a_question_or_the_data_renders_as_text(page, serve_app, tmp_path, bundled_bot):
    from playwright.async_api import expect

    from bot.service import build_bot

    root = tmp_path / "knowledge"
    write(root, "schools/alpha.yaml", MARKUP_SCHOOL)
    write(root, "policies/alpha/social-media.yaml", MARKUP_POLICY)
    # BM25 only: this is about rendering, and it keeps the test from loading the sentence model.
    settings = Settings(knowledge_dir=root, today=TODAY, answer_threshold=0.0, semantic=False)
    base, _ = await serve_app(settings, factory=build_bot)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=alpha]")).to_have_text("Alpha <i>Primary</i>")
    await page.select_option("#school", "alpha")
    question = '<img src=x onerror="window.__xss=1"><b>bold</b> can I post pics of my class on my facebook?'
    await page.fill("#question", question)
    await page.click("#ask-button")

    await expect(page.locator(".msg.user")).to_have_text(question)
    cite = page.locator("article.msg.bot .cite").first
    await expect(cite).to_contain_text('2 Photographs <b>and</b> <img src=x onerror="window.__xss=2">')
    await expect(cite).to_contain_text("Alpha <u>Social</u> Media Policy")
    await expect(page.locator("#school-info")).to_contain_text("Online <b>Safety</b> Lead")
    created = await page.evaluate("document.querySelectorAll('main img, main b, main i, main u').length")
    assert created == 0
    assert await page.evaluate("window.__xss === undefined")


async def test_off_loopback_the_page_asks_for_the_token_once(page, serve_app, settings):
    from playwright.async_api import expect

    base, _ = await serve_app(with_(settings, host="0.0.0.0", web_token="s3cret-token"))
    await page.goto(f"{base}/")
    await expect(page.locator("#token-form")).to_be_visible()
    await page.fill("#token", "wrong")
    await page.click("#token-form button")
    await expect(page.locator("#status")).to_contain_text("not accepted")
    await page.fill("#token", "s3cret-token")
    await page.click("#token-form button")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await page.fill("#question", "can I add a pupil's mum on my personal facebook?")
    await page.click("#ask-button")
    await expect(page.locator("article.msg.bot .clause-id").first).to_have_text("5.4")
    await expect(page.locator("#token-form")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('policybot.token')") == "s3cret-token"


async def test_the_page_is_rate_limited_as_its_own_person(page, serve_app, settings, client):
    """The page names its tab on every API call, so its limit is its own: past it the page says
    the question was not answered, while another caller from the same address is still answered."""
    from playwright.async_api import expect

    limit = 5
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=limit))
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("x-policybot-client")) if "/api/" in r.url else None)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await expect(page.locator("#ask-button")).to_be_enabled()
    await page.wait_for_load_state("networkidle")
    left = limit - len(sent)  # what loading the page spent (schools, the conversation) counts too
    assert left >= 1
    for _ in range(left + 1):
        await page.fill("#question", "can I follow a parent back on insta?")
        await page.click("#ask-button")
        await expect(page.locator("#ask-button")).to_be_enabled()
    await expect(page.locator("article.msg.bot .clause-id").first).to_be_visible()  # answered within the limit
    await expect(page.locator("p.msg.bot.error")).to_have_count(1)
    await expect(page.locator("p.msg.bot.error")).to_contain_text("not answered or passed on")
    tab = await page.evaluate("sessionStorage.getItem('policybot.client')")
    assert len(sent) == limit + 1 and set(sent) == {tab}
    async with client.post(f"{base}/api/ask", json={"school": "tsat", "question": "may I post photos?"}) as resp:
        assert resp.status == 200  # same address, without the tab's id: a bucket of its own


async def test_ask_the_lead_then_see_the_leads_answer(page, serve_app, settings, tmp_path, bundled_bot,
                                                       smtp_server):  # noqa: F811
    from playwright.async_api import expect

    from adapters.escalation_wiring import ESCALATIONS

    bot = with_contacts(bundled_bot, "tsat", email="head@tsat.test")
    s = with_(settings, db_path=tmp_path / "esc.sqlite3", worker_poll_seconds=0.05, smtp_host="127.0.0.1",
              smtp_port=smtp_server.port, smtp_starttls=False)
    base, app = await serve_app(s, escalations=True, factory=lambda _s: bot)
    await page.clock.install()  # the page polls every 15 s: the test moves the page's clock instead
    await page.goto(f"{base}/")
    await page.select_option("#school", "tsat")
    await expect(page.locator("#school-info .unreachable")).to_have_count(0)
    await page.fill("#question", "can I add a pupil's mum on my personal facebook?")
    await page.click("#ask-button")
    button = page.locator("article.msg.bot button.ask-lead").first
    await expect(button).to_contain_text("Ask")
    await button.click()
    ref = page.locator(".escalation-ref").first
    await expect(ref).to_contain_text("Sent to the Headteacher/Principal by email (ref ")
    esc_id = (await ref.text_content()).split("(ref ")[1].split(")")[0]
    assert len(smtp_server.received) == 1
    service = app[ESCALATIONS].service
    await service.acknowledge(esc_id, "Mrs Lead")
    await service.answer(esc_id, "Mrs Lead", "Only from the school account, please.")
    await page.clock.run_for(16000)
    answer = page.locator(".lead-answer").first
    await expect(answer).to_contain_text("Only from the school account")
    await expect(answer).to_contain_text("Answer from Mrs Lead")
    await page.screenshot(path=str(ARTIFACTS / "web-chat-escalation.png"), full_page=True)


async def test_an_unreachable_school_is_said_before_use_and_urgent_says_go_in_person(page, serve_app, settings,
                                                                                    tmp_path):
    """The bundled schools as shipped: no lead address, no email server. The page says so as soon
    as the school is chosen, and an urgent question's note says nobody could be notified."""
    from playwright.async_api import expect

    base, _ = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await page.goto(f"{base}/")
    await page.select_option("#school", "lzw")
    await expect(page.locator("#school-info .unreachable")).to_contain_text("cannot send questions to anyone")
    await page.fill("#question", "a pupil told me an adult online is asking her for nude photos")
    await page.click("#ask-button")
    urgent = page.locator("article.decision-urgent")
    await expect(urgent.locator(".urgent-steps li").first).to_contain_text("in person now")
    note = urgent.locator(".escalation-ref")
    await expect(note).to_contain_text("policybot could not notify anyone")
    assert "marked urgent" not in await urgent.text_content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-chat-unreachable-urgent.png"), full_page=True)


async def test_did_you_mean_shows_each_situation_with_its_clause(page, serve_app, settings, bundled_bot,
                                                                monkeypatch):
    from playwright.async_api import expect

    from bot.decide import answer as answer_module

    # Which questions come out ambiguous is the model's call; here every answer whose cited clauses
    # differ in section or stance is, so the page's rendering of the shape is what is tested.
    monkeypatch.setattr(answer_module, "AMBIGUITY_STRENGTH", 0.0)
    question = "can I add a pupil's mum on my personal facebook?"
    answer = bundled_bot.answer("tsat", question)
    assert answer.reason == "ambiguous" and len(answer.citations) > 1
    base, _ = await serve_app(settings)
    await page.goto(f"{base}/")
    await page.select_option("#school", "tsat")
    await page.fill("#question", question)
    await page.click("#ask-button")
    box = page.locator("article.msg.bot").last
    await expect(box).to_contain_text("Did you mean:")
    situations = box.locator(".situation")
    await expect(situations).to_have_count(len(answer.citations))
    for i, c in enumerate(answer.citations):
        await expect(situations.nth(i)).to_have_text(f"{c.situation}?")
    await expect(box.locator(".clause-id")).to_have_count(len(answer.citations))


async def test_helpful_button_records_the_vote(page, serve_app, settings, tmp_path):
    """Helpful under an answer writes the shared feedback record; Not helpful then changes it."""
    from playwright.async_api import expect

    from adapters.escalation_wiring import ESCALATIONS

    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await page.fill("#question", "can I add a pupil's mum on my personal facebook?")
    await page.click("#ask-button")
    answer = page.locator("article.msg.bot").last
    await answer.locator("button.feedback-helpful").click()
    await expect(answer.locator(".feedback-status")).to_have_text("Thanks, your feedback is recorded.")
    store = app[ESCALATIONS].service.store
    (vote,) = [r for r in await store.feedback() if r.event == "vote"]
    assert (vote.school, vote.platform, vote.helpful, vote.decision) == ("tsat", "web", True, "answer")
    assert "5.4" in vote.clauses
    await answer.locator("button.feedback-not-helpful").click()
    await expect(answer.locator("button.feedback-not-helpful")).to_have_attribute("aria-pressed", "true")
    votes = [r for r in await store.feedback() if r.event == "vote"]
    assert [(r.asker_id, r.helpful) for r in votes] == [(vote.asker_id, False)]
    report = await app[ESCALATIONS].service.feedback_report(school="tsat")
    assert report["tsat"].totals.as_dict() == {"answered": 1, "helpful": 0, "not_helpful": 1, "escalated": 0}


SHOTS = __import__("pathlib").Path("/tmp/wt14-shots")


async def test_the_conversation_and_a_later_lead_answer_survive_a_reload(page, serve_app, settings, tmp_path):
    """Ask twice (one answered, one escalated), reload: both are there. The lead answers (through
    the escalation service, as Slack, Teams or the CLI would), reload: the answer is shown. Another
    browser (a fresh context) sees none of it; "New conversation" starts afresh."""
    from playwright.async_api import expect

    from adapters.escalation_wiring import ESCALATIONS

    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await page.fill("#question", "can I follow a parent back on insta?")
    await page.click("#ask-button")
    await expect(page.locator("article.msg.bot")).to_have_count(1)
    shown_first = await page.locator("article.msg.bot").first.locator(".clause-id").all_text_contents()
    assert shown_first
    await page.fill("#question", "Jo wants to add me on chess.com over the summer, is that ok?")
    await page.click("#ask-button")
    escalated = page.locator("article.msg.bot").nth(1)
    await expect(escalated.locator(".escalation-ref")).to_contain_text("ref e")

    await page.reload()
    await expect(page.locator(".history-note")).to_have_text("Earlier in this conversation")
    await expect(page.locator(".msg.user")).to_have_text(["can I follow a parent back on insta?",
                                                          "Jo wants to add me on chess.com over the summer, is that ok?"])
    await expect(page.locator("article.msg.bot").first.locator(".clause-id")).to_have_text(shown_first)
    await expect(page.locator("article.msg.bot").nth(1).locator(".escalation-ref")).to_contain_text("ref e")
    await expect(page.locator(".lead-answer:visible")).to_have_count(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "history-after-reload.png"), full_page=True)

    service = app[ESCALATIONS].service
    (esc,) = await service.list()
    await service.answer(esc.id, "Ms A Lead", "Not while they are a pupil: play them only in chess club.")
    await page.reload()
    shown = page.locator("article.msg.bot").nth(1).locator(".lead-answer")
    await expect(shown).to_be_visible()
    await expect(shown).to_contain_text("Answer from Ms A Lead")
    await expect(shown).to_contain_text("play them only in chess club")
    await page.screenshot(path=str(SHOTS / "history-with-lead-answer.png"), full_page=True)

    other = await page.context.browser.new_context()  # another browser: its own storage
    stranger = await other.new_page()
    await stranger.goto(f"{base}/")
    await expect(stranger.locator("#school option[value=tsat]")).to_have_count(1)
    await expect(stranger.locator("#chat > *")).to_have_count(0)
    await other.close()

    await page.click("#new-conversation")
    await expect(page.locator("#chat > *")).to_have_count(0)
    await page.reload()
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await expect(page.locator("#chat > *")).to_have_count(0)


async def test_a_leads_note_is_shown_as_their_dated_guidance(page, serve_app, settings, noted_bot):
    from playwright.async_api import expect

    from tests.conftest import NOTE_SIMILAR

    base, _ = await serve_app(with_(settings, knowledge_dir=noted_bot.kb.root), factory=lambda _s: noted_bot)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=tsat]")).to_have_count(1)
    await page.select_option("#school", "tsat")
    await page.fill("#question", NOTE_SIMILAR)
    await page.click("#ask-button")
    answer = page.locator("article.msg.bot").last
    note = answer.locator("blockquote.clause.note")
    await expect(note.locator(".note-label")).to_have_text(
        "Guidance from Ms A Lead (Online Safety Lead), 25 November 2026")
    await expect(note).to_contain_text("never paste a pupil's name")
    await expect(note.locator(".cite")).to_have_text("The lead's earlier answer to a similar question, not policy text.")
    await expect(note.locator(".clause-id")).to_have_count(0)  # never a policy section
    await expect(answer).to_contain_text(re.compile(r"the lead('s earlier guidance| has answered a question like)"))
    await expect(answer.locator(".badge").first).to_contain_text("your lead's guidance")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "note-cited.png"), full_page=True)


async def test_an_answer_lost_on_the_way_is_asked_again_and_given_once(page, serve_app, settings, tmp_path):
    """The first response to /api/ask never reaches the page (the connection drops after the
    server answered): the page sends the same question with the same request id, and the server
    gives the reply it made, so the urgent question is escalated once and shown once."""
    from playwright.async_api import expect

    from adapters.escalation_wiring import ESCALATIONS

    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    sent: list[dict] = []

    async def drop_the_first_response(route):
        sent.append(route.request.post_data_json)
        response = await route.fetch()  # the server answers (and escalates) ...
        if len(sent) == 1:
            await route.abort("connectionreset")  # ... and the page never hears of it
        else:
            await route.fulfill(response=response)

    await page.route("**/api/ask", drop_the_first_response)
    await page.goto(f"{base}/")
    await expect(page.locator("#school option[value=arh]")).to_have_count(1)
    await page.select_option("#school", "arh")
    await page.fill("#question", "a year 8 girl told me an adult she met online is asking her for nude pictures")
    await page.click("#ask-button")
    await expect(page.locator("article.msg.bot.urgent, article.msg.bot").last).to_contain_text("safeguarding")
    assert len(sent) == 2 and sent[0]["request"] == sent[1]["request"] and len(sent[0]["request"]) == 32
    await expect(page.locator("article.msg.bot")).to_have_count(1)
    assert len(await app[ESCALATIONS].service.list()) == 1
