"""The authoring view in headless Chromium against the real server: the lead uploads a generated
.docx for a new school, sees the draft (and, for an update, the diff beside the live clauses),
edits an about phrasing, tries a question on the draft, accepts, and the normal chat then
answers from the new clause, without a restart. Screenshots go to /tmp/wt17-shots/."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import TODAY

from .conftest import wait_ready
from .policy_docx import write_policy_docx
from .test_authoring_api import ALPHA_V2
from .test_web_chat_browser import CHROMIUM, CHROMIUM_ARGS

SHOTS = Path("/tmp/wt17-shots")


@pytest.fixture
async def desk_page():
    """A desk-sized window (the lead reviews at a computer); the phone-sized one is checked too."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        await browser.close()
        assert not errors, errors


def _settings(root) -> Settings:
    return Settings(knowledge_dir=root, today=TODAY, answer_threshold=0.0, semantic=False,
                    rate_limit_per_minute=100_000, reload_poll_seconds=0)


async def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_lead_uploads_reviews_tries_accepts_and_the_chat_answers(desk_page, serve_app, client, tiny_kb, tmp_path):
    from playwright.async_api import expect

    page = desk_page
    base, _ = await serve_app(_settings(tiny_kb), factory=None)
    await wait_ready(client, base)
    docx = write_policy_docx(tmp_path / "St Marys social media policy.docx")

    await page.goto(f"{base}/author")
    await expect(page.locator("#school option[value=__new__]")).to_have_count(1)
    await page.select_option("#school", "__new__")
    await expect(page.locator("#new-school")).to_be_visible()
    await page.fill("#slug", "st-marys")
    await page.fill("#name", "St Mary's Primary School")
    await page.fill("#lead_name", "Mrs J Smith")
    await page.fill("#lead_email", "j.smith@st-marys.example.org")
    await page.fill("#deputy_email", "dsl@st-marys.example.org")
    await page.set_input_files("#file", str(docx))
    await _shot(page, "1-upload-form")
    await page.click("#upload-button")

    await expect(page.locator("#draft")).to_be_visible()
    await expect(page.locator("#draft-summary")).to_contain_text("7 clauses read")
    await expect(page.locator("#meta-title")).to_have_value("St Mary's Social Media Policy")
    await expect(page.locator("#meta-next_review")).to_have_value("Autumn 2027")
    await expect(page.locator("#problems .ok")).to_contain_text("No problems")
    rows = page.locator(".clause-row")
    await expect(rows).to_have_count(7)
    await expect(rows.nth(6).locator(".clause-id")).to_have_text("3.1")
    await expect(rows.nth(6)).to_contain_text("Staff must not livestream lessons or school events")
    await expect(rows.nth(6).locator(".live-side")).to_have_count(0)  # a new school: nothing to set beside
    await expect(page.locator("#diff-summary")).to_contain_text("A new school: St Mary's Primary School")

    await page.fill("#about-3\\.1", "put the nativity on facebook live\nstream sports day")
    await page.click("#save-button")
    await expect(page.locator("#save-status")).to_contain_text("Saved (1 clause(s) changed)")
    await expect(page.locator("#about-3\\.1")).to_have_value("put the nativity on facebook live\nstream sports day")

    await page.fill("#try-question", "can I livestream the nativity play on my facebook?")
    await page.click("#try-button")
    tried = page.locator("#try-answers article").first
    await expect(tried.locator(".badge")).to_have_text("The draft would answer")
    await expect(tried.locator(".clause-id").first).to_have_text("3.1")
    await _shot(page, "2-draft-reviewed-and-tried")

    await page.click("#accept-button")
    await expect(page.locator("#accept-status .ok")).to_contain_text("is answering staff now")
    await _shot(page, "3-accepted")

    # The normal chat, same server, never restarted: the new school answers from its new clause.
    await page.click("#accept-status a")
    await expect(page.locator("#school option[value=st-marys]")).to_have_count(1)
    await page.select_option("#school", "st-marys")
    await page.fill("#question", "can I livestream the nativity play on my facebook?")
    await page.click("#ask-button")
    answer = page.locator("article.msg.bot").last
    await expect(answer.locator(".clause-id").first).to_have_text("3.1")
    await expect(answer).to_contain_text("Staff must not livestream lessons or school events from a personal account.")
    await _shot(page, "4-chat-answers-from-new-clause")


async def test_an_update_shows_the_diff_beside_the_live_clauses(desk_page, serve_app, client, tiny_kb, tmp_path):
    from playwright.async_api import expect

    page = desk_page
    base, _ = await serve_app(_settings(tiny_kb), factory=None)
    await wait_ready(client, base)
    docx = write_policy_docx(tmp_path / "alpha 2025.docx", ALPHA_V2, title="Alpha Social Media Policy")
    await page.goto(f"{base}/author")
    await expect(page.locator("#school option[value=alpha]")).to_have_count(1)
    await page.select_option("#school", "alpha")
    await page.set_input_files("#file", str(docx))
    await page.click("#upload-button")
    await expect(page.locator("#diff-summary")).to_contain_text("2 unchanged, 0 renumbered, 1 reworded, 1 added, 0 removed")
    reworded = page.locator(".clause-row.kind-reworded")
    await expect(reworded.locator(".live-side del")).to_have_text("one.")
    await expect(reworded.locator(".live-side ins")).to_have_text("five.")
    await expect(page.locator(".clause-row.kind-added .live-side")).to_contain_text("added by this version")
    await expect(page.locator("#about-1\\.1")).to_have_value("pupil adds me on instagram")
    await _shot(page, "5-update-diff")
    await page.set_viewport_size({"width": 420, "height": 900})
    await _shot(page, "6-update-diff-phone")
