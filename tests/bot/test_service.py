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
