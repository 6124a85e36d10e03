"""bot.service.build_stages: the BM25 bot first (with the whole live-concern detector), then the
fused bot sharing its knowledge base, concern detector and BM25 indexes."""
from __future__ import annotations

import dataclasses

from bot.config import Settings
from bot.knowledge.load import bundled_knowledge_dir
from bot.service import BM25, FUSED, build_stages
from tests.conftest import TODAY


def test_bm25_first_then_fused_sharing_what_both_need(model_cache):
    stages = build_stages(Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY, cache_dir=model_cache))
    first = next(stages)
    assert first.mode == BM25
    assert first.concerns.index is not None  # concerns are checked by meaning from the first stage on
    answer = first.answer("tsat", "can I follow a parent back on insta?")
    assert "5.4" in [c.clause_id for c in answer.citations]
    second = next(stages)
    assert second.mode == FUSED
    assert second.kb is first.kb and second.concerns is first.concerns
    assert second.retriever.lexical is first.retriever
    assert next(stages, None) is None


def test_semantic_off_builds_only_the_bm25_bot(model_cache):
    settings = dataclasses.replace(Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY), semantic=False)
    assert [bot.mode for bot in build_stages(settings)] == [BM25]


def test_the_concern_detector_has_its_own_encoder_unless_both_jobs_name_one_file(model_cache):
    from bot.retrieval.embedding import ANSWERS, weights_file
    from bot.service import build_bot, build_like

    settings = Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY, cache_dir=model_cache)
    bot = build_bot(settings, mode=FUSED)
    answers, concerns = bot.retriever.semantic.encoder, bot.concerns.encoder
    assert concerns is not answers and concerns.version != answers.version
    shared = dataclasses.replace(settings, concern_encoder_weights=str(weights_file("tuned", ANSWERS)))
    one = build_bot(shared, mode=FUSED)
    assert one.concerns.encoder is one.retriever.semantic.encoder
    # A reload whose concern bank changed builds a new detector on the encoder already loaded.
    from bot.decide.concern import ConcernDetector

    bank, old = bot.kb.concerns, bot.concerns
    changed = bot.with_concerns(ConcernDetector(dataclasses.replace(bank, digest="something else"), old.thresholds,
                                                old.index, old.encoder))
    again = build_like(settings, bot.kb, changed)
    assert again.concerns is not changed.concerns and again.concerns.encoder is concerns
    assert again.concerns.bank == bank and again.retriever.semantic.encoder is answers
