"""Block Kit rendering: limits, escaping, urgent answers never quote policy."""
from __future__ import annotations

import dataclasses
import json

from bot.escalations.delivery import DELIVERED, NOBODY, Delivery, Notice

from adapters.slack import blocks as bk
from bot.decide.answer import URGENT


def test_answer_fits_slack_limits_with_buttons_kept(bundled_bot):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    c = answer.citations[0]
    many = tuple(dataclasses.replace(c, text="word " * 1500, clause_id=f"9.{i}") for i in range(60))
    out = bk.answer_blocks(dataclasses.replace(answer, citations=many), ref="7")
    assert len(out) <= bk.MAX_BLOCKS
    for b in out:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= bk.MAX_SECTION
    assert out[-1]["type"] == "actions"
    assert all(len(e["text"]["text"]) <= bk.MAX_BUTTON for e in out[-1]["elements"])


def test_echoed_question_and_clause_text_are_escaped(bundled_bot):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    c = dataclasses.replace(answer.citations[0], text="see <https://x.example|here> & <!everyone>")
    out = json.dumps(bk.answer_blocks(dataclasses.replace(answer, citations=(c,)),
                                      question="<!channel> <!here> <@U123> <http://a.example> a & b"))
    for markup in ("<!channel>", "<!here>", "<@U123>", "<http", "<!everyone>"):
        assert markup not in out
    assert "&lt;!channel&gt;" in out and "a &amp; b" in out


def test_urgent_says_in_person_now_names_who_and_quotes_no_policy(bundled_bot):
    answer = bundled_bot.answer("tsat", "a pupil has sent me a nude photo of another pupil, what do I do?")
    assert answer.decision == URGENT
    told = Delivery(DELIVERED, "e1", (Notice("lead", answer.lead.display, "slack", True),))
    out = json.dumps(bk.answer_blocks(answer, ref="1", delivery=told))
    assert "in person now" in out and "marked urgent" in out and "by Slack" in out
    assert "section" not in out.replace('"type": "section"', "") and "actions" not in out
    # Nothing delivered: no claim of a notice, and the asker is sent in person.
    nobody = json.dumps(bk.answer_blocks(answer, ref="1", delivery=Delivery(NOBODY, "e1")))
    assert "marked urgent" not in nobody and "could not notify anyone" in nobody
    assert "has told" not in json.dumps(bk.answer_blocks(answer, ref="1"))
    assert "has told" not in bk.fallback_text(answer, Delivery(NOBODY, "e1"))


def test_escalated_answer_says_who_it_went_to(bundled_bot):
    answer = bundled_bot.answer("tsat", "what is the canteen menu on friday?")
    assert answer.decision == "escalate"
    told = Delivery(DELIVERED, "e2", (Notice("lead", answer.lead.display, "email", True),))
    out = json.dumps(bk.answer_blocks(answer, ref="1", delivery=told))
    assert "Sent to" in out and bk.escape(answer.lead.display) in out and "by email" in out
    out = json.dumps(bk.answer_blocks(answer, ref="1", delivery=Delivery(NOBODY, "e2")))
    assert "Not sent" in out and "Sent to" not in out


def test_a_leads_note_is_shown_as_their_dated_guidance_not_a_policy_section(noted_bot):
    from tests.conftest import NOTE_SIMILAR

    answer = noted_bot.answer("tsat", NOTE_SIMILAR)
    assert answer.decision == "answer" and answer.citations[0].source == "lead answer"
    out = bk.answer_blocks(answer, ref="3")
    note = next(b for b in out if b["type"] == "section" and "Guidance from" in b["text"]["text"])
    assert note["text"]["text"].startswith(":memo: *Guidance from Ms A Lead (Online Safety Lead), 25 November 2026*")
    assert "never paste a pupil" in note["text"]["text"]
    assert "section *note-e5*" not in json.dumps(out) and "not policy text" in json.dumps(out)
    from bot.render import says

    intro = says(answer.citations)  # names the lead's guidance, with or without policy quoted beside it
    assert "the lead" in intro and any(intro in b.get("text", {}).get("text", "") for b in out)
