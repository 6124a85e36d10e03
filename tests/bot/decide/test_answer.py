"""The decision: urgent wins, confident answers cite the school's own clauses, the rest escalate."""
from __future__ import annotations

from datetime import date

import pytest

from bot.decide.answer import ANSWER, ESCALATE, URGENT, PolicyBot, QuestionError
from bot.decide.answerability import AnswerabilityModel
from bot.config import Settings
from bot.knowledge.load import UnknownSchool, load_knowledge
from bot.retrieval.lexical import BM25Retriever


def make_bot(root, threshold=0.5, today=date(2026, 11, 25)):
    kb = load_knowledge(root)
    return PolicyBot(kb, BM25Retriever(kb), Settings(knowledge_dir=root, today=today, answer_threshold=threshold),
                     AnswerabilityModel.default())


def test_confident_answer_quotes_the_schools_own_clause(tiny_kb):
    answer = make_bot(tiny_kb).answer("alpha", "can I post pics of my class on my facebook?")
    assert answer.decision == ANSWER
    assert answer.citations[0].clause_id == "2.1"
    assert answer.citations[0].text == "Photographs of pupils must never be posted on personal accounts."
    assert answer.citations[0].policy == "Alpha Social Media Policy"
    assert answer.citations[0].stance == "must not"
    assert 0.5 <= answer.confidence <= 1.0
    assert answer.contacts == ()


def test_same_question_answered_from_each_schools_own_policy(tiny_kb):
    bot = make_bot(tiny_kb, threshold=0.0)
    a = bot.answer("alpha", "friend requests from former pupils")
    b = bot.answer("beta", "friend requests from former pupils")
    assert {c.school for c in a.citations} == {"alpha"}
    assert {c.school for c in b.citations} == {"beta"}
    assert b.citations[0].clause_id == "A.1" and b.citations[0].stance == "advised against"


def test_low_confidence_escalates_to_the_named_lead(tiny_kb):
    answer = make_bot(tiny_kb).answer("alpha", "where do staff park their phones during parents evening?")
    assert answer.decision == ESCALATE
    assert answer.confidence < 0.5
    assert answer.contacts == (answer.lead,)
    assert answer.lead.name == "Ms A Lead"


def test_live_concern_is_never_answered_and_goes_to_lead_and_deputy(tiny_kb):
    answer = make_bot(tiny_kb).answer("alpha", "a year 6 girl just told me a man online asked her to send photos of herself")
    assert answer.decision == URGENT
    assert answer.citations == ()
    assert [c.role for c in answer.contacts] == ["Online Safety Lead", "Headteacher"]


def test_review_warning_only_when_the_cited_policy_is_overdue(tiny_kb):
    overdue = make_bot(tiny_kb).answer("alpha", "pics of my class on my facebook")
    assert [(w.next_review, w.due) for w in overdue.review_warnings] == [("September 2025", date(2025, 9, 30))]
    in_date = make_bot(tiny_kb, today=date(2025, 9, 30)).answer("alpha", "pics of my class on my facebook")
    assert in_date.review_warnings == ()


@pytest.mark.parametrize("question,fragment", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("x" * 4001, "4,001 characters"),
    ("\x00\x01\x02\x03binary\x04\x05", "binary"),
    ("?!?! 123", "couldn't find any words"),
])
def test_bad_questions_get_a_polite_error(tiny_kb, question, fragment):
    with pytest.raises(QuestionError) as info:
        make_bot(tiny_kb).answer("alpha", question)
    assert fragment in str(info.value)


def test_unknown_school_is_an_error_not_another_schools_text(tiny_kb):
    with pytest.raises(UnknownSchool):
        make_bot(tiny_kb).answer("gamma", "can I post photos?")


def test_off_topic_question_escalates_without_quoting_clauses(tiny_kb):
    answer = make_bot(tiny_kb, threshold=0.0).answer("alpha", "how do I book annual leave for friday?")
    assert answer.decision == ESCALATE and answer.reason == "out_of_scope"
    assert answer.citations == () and answer.confidence == 0.0


def _citation(cid, section, stance, strength, situation):
    from bot.decide.answer import Citation

    return Citation(cid, section, "P", "p", f"text {cid}", "alpha", stance, situation=situation, strength=strength)


def test_close_clauses_in_different_situations_are_ambiguous():
    close = (_citation("1.1", "1 Contact", "must not", 1.0, "pupil adds me"),
             _citation("2.1", "2 Photos", "must not", 0.9, "class pics"))
    assert PolicyBot._ambiguous(close)
    # Same section and stance: one situation, however close.
    same = (close[0], _citation("1.2", "1 Contact", "must not", 0.95, "pupil messages me"))
    assert not PolicyBot._ambiguous(same)
    # A distant runner-up is not a competing reading.
    assert not PolicyBot._ambiguous((close[0], _citation("2.1", "2 Photos", "must not", 0.5, "class pics")))


def test_ambiguous_answer_renders_did_you_mean_with_each_situation(tiny_kb):
    from dataclasses import replace

    from bot.decide.answer import AMBIGUOUS
    from bot.render import answer_json, render_text

    bot = make_bot(tiny_kb)
    answer = bot.answer("alpha", "can I post pics of my class on my facebook?")
    two = (answer.citations[0], _citation("1.1", "1 Contact with pupils", "must not", 0.9, "pupil adds me on instagram"))
    shown = render_text(replace(answer, reason=AMBIGUOUS, citations=two))
    assert "Did you mean" in shown
    assert "**pics of my class on my facebook?**" in shown and "**pupil adds me on instagram?**" in shown
    assert answer_json(replace(answer, citations=two))["citations"][1]["situation"] == "pupil adds me on instagram"


def test_a_one_clause_knowledge_base_gives_a_bounded_confidence(tmp_path):
    from tests.conftest import SCHOOL_A, write

    root = tmp_path / "kb"
    write(root, "schools/alpha.yaml", SCHOOL_A)
    write(root, "policies/alpha/social-media.yaml", """
        id: social-media
        school: alpha
        title: Alpha Social Media Policy
        next_review: September 2030
        clauses:
          - id: "2.1"
            section: 2 Photographs
            text: Photographs of pupils must never be posted on personal accounts.
    """)
    answer = make_bot(root).answer("alpha", "<b>bold</b> can I post pics of my class on my facebook?")
    assert 0.0 <= answer.confidence <= 1.0
    # one clause: every word has ~zero information, so nothing is matched or judged
    assert answer.features.get("coverage1", 0.0) <= 1.0
