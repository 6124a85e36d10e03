"""The answerability model: re-ranks candidates by the probability they answer, and gives a
confidence that is a probability, never certain; it round-trips through its file."""
from __future__ import annotations

from datetime import date

import pytest

from bot.config import Settings
from bot.decide.answer import PolicyBot
from bot.decide.answerability import (CEILING, FLOOR, AnswerabilityModel, Judgement, Logistic, dump_models,
                                      question_features)
from bot.knowledge.load import load_knowledge
from bot.retrieval.lexical import BM25Retriever, Candidate, SearchResult


def _result(bot, question="can I post pics of my class on my facebook?"):
    return bot.retriever.search("alpha", question)


@pytest.fixture
def bot(tiny_kb):
    kb = load_knowledge(tiny_kb)
    return PolicyBot(kb, BM25Retriever(kb), Settings(knowledge_dir=tiny_kb, today=date(2026, 11, 25)))


def test_candidates_are_reranked_by_the_pair_probability(bot):
    result = _result(bot)
    assert len(result.candidates) >= 2
    # A model that trusts a clause's length alone puts the longest clause first.
    by_length = AnswerabilityModel("bm25", Logistic(("length",), (5.0,), -10.0), Logistic(("p1",), (1.0,), 0.0))
    ranked = by_length.rank(result)
    lengths = [c.evidence["length"] for c, _ in ranked]
    assert lengths == sorted(lengths, reverse=True)
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)


def test_confidence_is_never_certain_either_way(bot):
    result = _result(bot)
    sure = AnswerabilityModel("bm25", Logistic(("coverage",), (500.0,), 0.0), Logistic(("p1",), (500.0,), 0.0))
    hopeless = AnswerabilityModel("bm25", Logistic(("coverage",), (0.0,), -500.0), Logistic(("p1",), (500.0,), 0.0))
    assert sure.judge(result).confidence == CEILING
    assert hopeless.judge(result).confidence == FLOOR


def test_a_third_clause_far_weaker_than_the_second_is_not_quoted(bot):
    result = _result(bot)
    cands = result.candidates[:3]
    assert len(cands) == 3
    school = bot.kb.school("alpha")
    strong = Judgement(tuple(zip(cands, (0.9, 0.8, 0.7))), 0.9, {})
    weak_third = Judgement(tuple(zip(cands, (0.9, 0.8, 0.2))), 0.9, {})
    assert len(bot._citations(school, strong)) == 3
    assert [c.clause_id for c in bot._citations(school, weak_third)] == [c.hit.clause.id for c in cands[:2]]


def test_the_model_file_round_trips_and_a_broken_one_names_itself(tmp_path, bot):
    model = AnswerabilityModel("bm25", Logistic(("coverage", "rank"), (1.5, -0.5), 0.2, (0.3, 0.5), (0.1, 0.2)),
                               Logistic(("p1", "p2"), (0.8, 0.1), -0.3, (0.0, 0.0), (1.0, 1.0)), threshold=0.61)
    path = tmp_path / "answerability.yaml"
    dump_models(path, {"bm25": (model, "a.yaml, b.yaml")}, "test")
    loaded = AnswerabilityModel.load(path, "bm25")
    assert loaded.pair == model.pair and loaded.question == model.question and loaded.threshold == 0.61
    assert "a.yaml, b.yaml" in loaded.source
    result = _result(bot)
    assert loaded.judge(result).confidence == pytest.approx(model.judge(result).confidence)
    path.write_text("modes:\n  bm25:\n    pair: {features: {coverage: {weight: x}}}\n")
    with pytest.raises(ValueError, match="answerability.yaml"):
        AnswerabilityModel.load(path, "bm25")


def test_question_features_read_the_top_candidates(bot):
    result = _result(bot)
    model = AnswerabilityModel.default("bm25")
    ranked = model.rank(result)
    f = question_features(result, ranked)
    assert f["p1"] >= f["p2"] >= f["p3"] and f["p_gap"] >= 0
    assert isinstance(result, SearchResult) and isinstance(ranked[0][0], Candidate)
