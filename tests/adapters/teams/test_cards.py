"""Adaptive Cards for Teams: real answers from the bundled knowledge base for two schools,
checked against the published Adaptive Card 1.5 schema, for content, buttons, escalated and
urgent wording, inert user text, and Teams' size limit."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft6Validator

from adapters.teams import cards
from bot.escalations.delivery import DELIVERED, NOBODY, QUEUED, Delivery, Notice
from bot.decide.answer import AMBIGUOUS, ANSWER, ESCALATE, URGENT
from bot.escalations.model import NOTIFY_DEPUTY, NOTIFY_LEAD, REMIND, URGENT_NOTICE, Asker, Candidate, Escalation
from bot.render import STANCE_WORDS, clause_plain, render_text

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "schemas" / "adaptive-card-1.5.0.json"
INJECTION = ("[click here](http://evil.example/x) <at>Headteacher</at> <a href=\"http://evil.example\">y</a> "
             "**bold** _it_ <http://evil.example/auto> ![img](http://evil.example/i.png)")


@pytest.fixture(scope="module")
def validator() -> Draft6Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema)


def valid(validator: Draft6Validator, card: dict) -> dict:
    """Asserts the card is a Teams 1.5 card and valid against the schema. `msteams` is Teams'
    host extension, which the generic schema (additionalProperties: false) does not list, so it is
    checked here and left out of the schema validation."""
    assert card["type"] == "AdaptiveCard" and card["version"] == cards.CARD_VERSION == "1.5"
    assert card["msteams"] == {"width": "Full"}
    generic = {k: v for k, v in card.items() if k != "msteams"}
    errors = sorted(validator.iter_errors(generic), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert cards.card_bytes(card) <= cards.MAX_CARD_BYTES
    return card


def walk(node):
    """Every dict in the card, depth first."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def text_blocks(card: dict) -> list[str]:
    return [n["text"] for n in walk(card) if n.get("type") == "TextBlock"]


def runs(card: dict) -> list[dict]:
    return [n for n in walk(card) if n.get("type") == "TextRun"]


def run_texts(card: dict) -> list[str]:
    """Each run's text as a reader sees it (the zero-width spaces are invisible)."""
    return [r["text"].replace("\u200b", "") for r in runs(card)]


def visible(card: dict) -> str:
    return " ".join(text_blocks(card) + run_texts(card))


def all_strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in all_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in all_strings(v)]
    return []


def assert_inert(card: dict) -> None:
    """No string anywhere in the card can be a markdown link or an HTML / <at> tag."""
    for s in all_strings(card):
        assert "](" not in s, s
        assert not re.search(r"<[A-Za-z/!?]", s), s


# Two schools: tsat (policy in date) and kingsmead (policy past its review date).
@pytest.fixture(scope="module")
def tsat_answer(bundled_bot):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    assert answer.decision == ANSWER and not answer.review_warnings
    return answer


@pytest.fixture(scope="module")
def kingsmead_answer(bundled_bot):
    answer = bundled_bot.answer("kingsmead", "can I friend an ex-pupil who is 18?")
    assert answer.decision == ANSWER and answer.review_warnings
    return answer


@pytest.mark.parametrize("which", ["tsat_answer", "kingsmead_answer"])
def test_answer_quotes_every_clause_verbatim_with_section_and_stance(request, validator, which):
    answer = request.getfixturevalue(which)
    card = valid(validator, cards.answer_card(answer, ref="inbox-7", lead_name=None, can_ask=True))
    texts = run_texts(card)
    assert answer.school_name in texts
    for c in answer.citations:
        quoted = clause_plain(c.text)
        assert quoted in texts or f"– {quoted}" in texts, c.clause_id
        bold = [r["text"] for r in runs(card) if r.get("weight") == "Bolder"]
        assert c.clause_id in bold and STANCE_WORDS[c.stance] in bold
        assert c.policy in texts and f" ({c.section})" in texts
    assert f"Confidence {answer.confidence:.0%}." in text_blocks(card)


def test_answer_buttons_carry_action_and_ref(validator, tsat_answer):
    card = valid(validator, cards.answer_card(tsat_answer, ref="inbox-7", lead_name=None, can_ask=True))
    actions = card["actions"]
    assert all(a["type"] == "Action.Submit" for a in actions)
    assert [a["data"] for a in actions] == [{"policybot": "helpful", "ref": "inbox-7"},
                                            {"policybot": "unhelpful", "ref": "inbox-7"},
                                            {"policybot": "ask_lead", "ref": "inbox-7"}]
    assert [a["title"] for a in actions] == ["Helpful", "Not helpful", f"Ask {tsat_answer.lead.display}"]
    named = cards.answer_card(tsat_answer, ref="r", lead_name="Ms A Lead", can_ask=True)
    assert named["actions"][-1]["title"] == "Ask Ms A Lead"


def test_no_ask_button_when_escalations_are_unavailable(validator, kingsmead_answer):
    card = valid(validator, cards.answer_card(kingsmead_answer, ref="r1", lead_name=None, can_ask=False))
    assert [a["data"]["policybot"] for a in card["actions"]] == [cards.FEEDBACK_HELPFUL, cards.FEEDBACK_UNHELPFUL]


def test_review_warning_names_policy_and_date(validator, kingsmead_answer):
    card = valid(validator, cards.answer_card(kingsmead_answer, ref="r1", lead_name=None, can_ask=True))
    warnings = [n for n in walk(card) if n.get("type") == "Container" and n.get("style") == "warning"]
    w = kingsmead_answer.review_warnings[0]
    assert len(warnings) == 1
    words = " ".join(run_texts(warnings[0]))
    assert w.policy in words and w.next_review in words and f"{w.due:%d %B %Y}" in words
    assert kingsmead_answer.lead.display in words


def test_did_you_mean_shows_each_situation(bundled_bot, validator):
    # Whether a question comes out ambiguous is the model's call; the card is what is tested here.
    answer = dataclasses.replace(bundled_bot.answer("tsat", "can I add a pupil's mum on my personal facebook?"),
                                 reason=AMBIGUOUS)
    assert answer.decision == ANSWER and len(answer.citations) > 1
    card = valid(validator, cards.answer_card(answer, ref="r2", lead_name=None, can_ask=True))
    headings = [r["text"] for r in runs(card) if r.get("weight") == "Bolder"]
    for c in answer.citations:
        assert f"{c.situation}?" in headings
    assert "Did you mean" in visible(card)


def test_escalated_says_who_it_went_to_and_offers_no_buttons(bundled_bot, validator):
    answer = dataclasses.replace(bundled_bot.answer("kingsmead", "can I follow a parent back on insta?"),
                                 decision=ESCALATE, reason="low_confidence")
    assert answer.citations
    queued = Delivery(QUEUED, "e3", (Notice("lead", answer.lead.display, "teams", False),))
    card = valid(validator, cards.answer_card(answer, ref="r3", lead_name=None, can_ask=True, delivery=queued))
    words = visible(card)
    assert "Queued for" in words and answer.lead.display in words and "by Teams" in words
    assert "Sent to" not in words and "may not answer your question" in words
    assert "actions" not in card


def test_off_topic_escalation_quotes_nothing(bundled_bot, validator):
    answer = bundled_bot.answer("tsat", "what is the canteen menu on friday?")
    assert answer.decision == ESCALATE and not answer.citations
    card = valid(validator, cards.answer_card(answer, ref="r4", lead_name=None, can_ask=True))
    assert "doesn't look like a question about" in visible(card) and "section" not in visible(card)
    # Not sent unasked: the one action is the asker's own "Ask <lead> anyway".
    assert [a["title"] for a in card["actions"]] == [f"Ask {answer.lead.display} anyway"]
    assert "has not been sent to anyone" in visible(card)


def test_urgent_says_in_person_now_names_lead_and_deputy_and_quotes_no_policy(bundled_bot, validator):
    answer = bundled_bot.answer("tsat", "a pupil has sent me a nude photo of another pupil, what do I do?")
    assert answer.decision == URGENT
    told = Delivery(DELIVERED, "e5", (Notice("lead", answer.lead.display, "teams", True),
                                      Notice("deputy", answer.deputy.display, "email", True)))
    card = valid(validator, cards.answer_card(answer, ref="r5", lead_name=None, can_ask=True, delivery=told))
    assert card["body"][0]["style"] == "attention" and "URGENT" in card["body"][0]["items"][0]["text"]
    words = visible(card)
    assert "in person now" in words and "call 999" in words and "marked urgent" in words
    assert f"{answer.lead.display} or {answer.deputy.display} in person now" in words
    assert f"{answer.lead.display} by Teams, {answer.deputy.display} by email" in words
    assert "section" not in words and "stance" not in words and "actions" not in card
    nobody = visible(cards.answer_card(answer, ref="r5", delivery=Delivery(NOBODY)))
    assert "marked urgent" not in nobody and "could not notify anyone" in nobody


def test_question_and_clause_text_cannot_become_links_or_mentions(validator, tsat_answer):
    evil_clause = dataclasses.replace(tsat_answer.citations[0], text="See " + INJECTION, section="<at>All</at>")
    answer = dataclasses.replace(tsat_answer, citations=(evil_clause,), school_name="[Evil](http://evil.example)")
    card = valid(validator, cards.answer_card(answer, ref="r6", lead_name="<at>Head</at>", can_ask=True,
                                              question=INJECTION))
    assert_inert(card)
    # Shown as typed, only in TextRuns (no markdown) or button titles, never in a TextBlock.
    assert any(t.endswith(INJECTION) for t in run_texts(card))
    assert clause_plain("See " + INJECTION) in run_texts(card)  # the core's display form of a clause
    assert "[Evil](http://evil.example)" in run_texts(card)
    for block in text_blocks(card):
        assert "evil" not in block and "<" not in block and "[" not in block
    assert card["actions"][-1]["title"].replace("\u200b", "") == "Ask <at>Head</at>"
    plain = cards.plain_text(answer)
    assert "](" not in plain and "<at>" not in plain and "[click here]\u200b(http://evil.example/x)" in plain


def test_inert_is_invisible_and_minimal():
    assert cards.inert("plain words, no markup: a < b and [1] (see)") == "plain words, no markup: a < b and [1] (see)"
    assert cards.inert("[x](http://e)").replace("\u200b", "") == "[x](http://e)"
    assert cards.inert("<at>A</at>") == "<\u200bat>A<\u200b/at>"


def test_long_clauses_are_shortened_and_the_card_fits_teams_limit(validator, tsat_answer):
    c = tsat_answer.citations[0]
    many = tuple(dataclasses.replace(c, clause_id=f"9.{i}", text="Staff must not post é " * 900)
                 for i in range(10))
    answer = dataclasses.replace(tsat_answer, citations=many)
    card = valid(validator, cards.answer_card(answer, ref="r7", lead_name=None, can_ask=True,
                                              question="q" * 4000))
    assert cards.card_bytes(card) <= cards.MAX_CARD_BYTES < 28 * 1024
    words = visible(card)
    assert "(shortened here; the full text is section 9.0 of Social Media Policy)" in words
    assert "more clauses matched than fit here" in words
    quoted = [t for t in run_texts(card) if t.startswith("Staff must not post")]
    assert quoted and all(len(t) <= cards.MAX_CLAUSE_CHARS + 2 and t.endswith("…") for t in quoted)
    assert 1 <= len(quoted) < 10
    assert [a["data"]["policybot"] for a in card["actions"]] == ["helpful", "unhelpful", "ask_lead"]


def test_a_normal_answer_is_not_cut(tsat_answer):
    card = cards.answer_card(tsat_answer, ref="r", lead_name=None, can_ask=True)
    assert "shortened here" not in visible(card) and "more clauses matched" not in visible(card)


def test_plain_text_is_the_core_rendering_without_markdown(tsat_answer):
    text = cards.plain_text(tsat_answer)
    assert text == render_text(tsat_answer).replace("**", "")
    assert all(clause_plain(c.text) in text for c in tsat_answer.citations)


def test_notice_card(validator):
    card = valid(validator, cards.notice_card("policybot isn't set up for this team yet. <at>x</at>"))
    assert run_texts(card) == ["policybot isn't set up for this team yet. <at>x</at>"]
    assert "actions" not in card
    assert_inert(card)


def test_card_attachment():
    card = cards.notice_card("hello")
    assert cards.card_attachment(card) == {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}


# --- the lead's cards --------------------------------------------------------------------

def escalation_from(answer, question: str, **changes) -> Escalation:
    """An escalation as EscalationService.escalate records it from an answer."""
    esc = Escalation(id="e1234abcd", school=answer.school, school_name=answer.school_name,
                     asker=Asker("teams", "29:asker", "a:conv", "act-1", "Sam Staff"), question=question,
                     candidates=tuple(Candidate(c.clause_id, f"{c.policy}, {c.section}") for c in answer.citations),
                     reason=answer.reason if answer.decision != URGENT else "urgent", urgent=answer.decision == URGENT,
                     lead=answer.lead, deputy=answer.deputy, concern=answer.concern)
    return dataclasses.replace(esc, **changes)


def test_lead_card_for_an_escalated_question(bundled_bot, validator):
    question = "can I follow a parent back on insta?"
    answer = bundled_bot.answer("kingsmead", question)
    esc = escalation_from(answer, question)
    card = valid(validator, cards.lead_card(esc, NOTIFY_LEAD))
    assert card["body"][0] == cards.label(cards.DEFAULT_TITLE, weight="Bolder", size="Medium")
    texts = run_texts(card)
    assert question in texts and "Sam Staff" in texts and esc.school_name in texts and esc.id in texts
    for cand in esc.candidates:
        assert cand.clause_id in texts and cand.ref in texts
    [box] = [n for n in walk(card) if n.get("type") == "Input.Text"]
    assert box["id"] == "answer" and box["isMultiline"] is True and box["maxLength"] == 2900
    assert [(a["title"], a["data"]) for a in card["actions"]] == [
        ("Acknowledge", {"policybot": "escalation_ack", "escalation": "e1234abcd"}),
        ("Send answer", {"policybot": "escalation_answer", "escalation": "e1234abcd"})]
    assert "URGENT" not in visible(card)


@pytest.mark.parametrize("kind,title", [(REMIND, "Reminder: a question is waiting for you"),
                                        (NOTIFY_DEPUTY, "A question the lead has not picked up"),
                                        (NOTIFY_LEAD, "A staff question needs your answer")])
def test_lead_card_title_per_kind(bundled_bot, validator, kind, title):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    card = valid(validator, cards.lead_card(escalation_from(answer, "q", reason="asked_by_user"), kind))
    assert title in text_blocks(card)
    assert "Why: asked by user." in "".join(run_texts(card))


def test_urgent_lead_card_has_the_banner_first(bundled_bot, validator):
    question = "a pupil has sent me a nude photo of another pupil, what do I do?"
    answer = bundled_bot.answer("tsat", question)
    esc = escalation_from(answer, question)
    assert esc.urgent
    card = valid(validator, cards.lead_card(esc, URGENT_NOTICE))
    banner = card["body"][0]
    assert banner["type"] == "Container" and banner["style"] == "attention"
    assert banner["items"][0]["text"].startswith("URGENT")
    assert answer.concern in run_texts(banner)
    assert question in run_texts(card) and "(none)" in text_blocks(card)
    assert card["fallbackText"].startswith("URGENT: ")


def test_lead_card_after_retention_purge_and_with_hostile_text(bundled_bot, validator):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    purged = valid(validator, cards.lead_card(escalation_from(answer, ""), NOTIFY_LEAD))
    assert "(text removed under the retention policy)" in run_texts(purged)
    hostile = escalation_from(answer, INJECTION, asker=Asker("teams", "29:x", display_name="<at>Everyone</at>"))
    card = valid(validator, cards.lead_card(hostile, NOTIFY_LEAD))
    assert_inert(card)
    assert INJECTION in run_texts(card) and "<at>Everyone</at>" in run_texts(card)


def test_lead_card_with_the_longest_question_fits(bundled_bot, validator):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    longest = bundled_bot.settings.max_question_chars
    ascii_question = ("may I " * longest)[:longest]
    card = valid(validator, cards.lead_card(escalation_from(answer, ascii_question), NOTIFY_LEAD))
    assert ascii_question in run_texts(card) and "shortened here" not in visible(card)
    # Non-ASCII text takes six bytes a character once escaped: shortened, with a pointer to the rest.
    accented = "é" * longest
    card = valid(validator, cards.lead_card(escalation_from(answer, accented), NOTIFY_LEAD))
    shown = [t for t in run_texts(card) if t.startswith("éé")]
    assert shown and 200 < len(shown[0]) < longest and shown[0].endswith("…")
    assert "(shortened here; the whole question: policybot escalations show e1234abcd)" in run_texts(card)


def test_answer_to_asker_is_attributed_and_quoted(bundled_bot, validator):
    question = "can I follow a parent back on insta?"
    answer = bundled_bot.answer("kingsmead", question)
    esc = escalation_from(answer, question)
    lead = answer.lead.display
    reply = "Please don't; use the school office email.\nSee section 1.2. [more](http://evil.example)"
    card = valid(validator, cards.answer_to_asker_card(esc, reply, lead))
    texts = run_texts(card)
    assert texts[0] == lead and card["body"][0]["inlines"][0]["weight"] == "Bolder"
    assert f" has answered the question you asked (ref {esc.id}):" in texts
    assert reply in texts and question in texts
    assert_inert(card)
    assert "actions" not in card


def test_answer_to_asker_shortens_an_overlong_answer(bundled_bot, validator):
    answer = bundled_bot.answer("tsat", "can I follow a parent back on insta?")
    esc = escalation_from(answer, "q")
    card = valid(validator, cards.answer_to_asker_card(esc, "word " * 2000, "Ms A Lead"))
    body = [t for t in run_texts(card) if t.startswith("word")]
    assert len(body[0]) <= cards.MAX_LEAD_ANSWER_CHARS + 2
    assert f"(shortened here; ask Ms A Lead for the rest, ref {esc.id})" in run_texts(card)


def test_cards_are_plain_json(tsat_answer):
    """What the channel hands to botbuilder: JSON round-trips to the same dict (no objects)."""
    card = cards.answer_card(tsat_answer, ref="r", lead_name=None, can_ask=True)
    assert json.loads(json.dumps(card)) == card
