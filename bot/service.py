"""Builds the core from settings: knowledge base, retriever, calibration, bot. One place, so
the CLI, the server and the tests assemble the same thing."""
from __future__ import annotations

import logging

from .decide.answer import PolicyBot
from .decide.calibration import Calibration
from .config import Settings
from .knowledge.load import KnowledgeBase, load_knowledge
from .retrieval.lexical import BM25Retriever

CALIBRATION_FILE = "calibration.yaml"
BM25, SEMANTIC, FUSED = "bm25", "semantic", "fused"

log = logging.getLogger(__name__)


def load_semantic(kb: KnowledgeBase, settings: Settings):
    """The semantic scorer, or None with the reason logged once: a missing or broken model
    costs answer quality, never the bot."""
    from .retrieval.embedding import EmbeddingUnavailable, load_encoder
    from .retrieval.semantic import SemanticScorer

    try:
        encoder = load_encoder(settings.cache_dir, settings.model_variant, settings.model_threads)
        return SemanticScorer(kb, encoder, settings.cache_dir)
    except EmbeddingUnavailable as exc:
        log.warning("semantic stage off: %s; answering with BM25 only", exc)
    except Exception as exc:  # noqa: BLE001 - same promise for anything unexpected
        log.warning("semantic stage off: %s: %s; answering with BM25 only", type(exc).__name__, exc)
    return None


def build_bot(settings: Settings, kb: KnowledgeBase | None = None, mode: str | None = None,
              semantic=None) -> PolicyBot:
    """The bot in `mode` (default: fused when settings.semantic and the model loads, else
    bm25). `semantic` lets callers that build several bots share one loaded scorer."""
    kb = kb or load_knowledge(settings.knowledge_dir)
    lexical = BM25Retriever(kb)
    mode = mode or (FUSED if settings.semantic else BM25)
    retriever = lexical
    if mode != BM25:
        semantic = semantic or load_semantic(kb, settings)
        if semantic is None:
            mode = BM25
        else:
            from .retrieval.fusion import FusedRetriever

            retriever = FusedRetriever(lexical, semantic, mode)
    calibration = Calibration.load(settings.knowledge_dir / CALIBRATION_FILE, mode)
    return PolicyBot(kb, retriever, settings, calibration, mode)
