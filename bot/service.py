"""Builds the core from settings: knowledge base, retriever, answerability model, bot. One place, so
the CLI, the server and the tests assemble the same thing."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from .decide.answer import PolicyBot
from .decide.answerability import MODEL_FILE, AnswerabilityModel
from .decide.concern import ConcernDetector, Thresholds, build_index, index_texts, model_path, seed_path
from .config import Settings
from .knowledge.load import KnowledgeBase, concern_root, load_knowledge
from .native_threads import limit_blas_threads
from .retrieval.lexical import BM25Retriever

BM25, SEMANTIC, FUSED = "bm25", "semantic", "fused"

log = logging.getLogger(__name__)


def load_semantic(kb: KnowledgeBase, settings: Settings, encoder=None):
    """The semantic scorer, or None with the reason logged once: a missing or broken model
    costs answer quality, never the bot. `encoder`: one already loaded (else it is loaded here)."""
    from .retrieval.embedding import EmbeddingUnavailable
    from .retrieval.semantic import SemanticScorer

    try:
        encoder = encoder or answers_encoder(settings)
        return SemanticScorer(kb, encoder, settings.cache_dir)
    except EmbeddingUnavailable as exc:
        log.warning("semantic stage off: %s; answering with BM25 only", exc)
    except Exception as exc:  # noqa: BLE001 - same promise for anything unexpected
        log.warning("semantic stage off: %s: %s; answering with BM25 only", type(exc).__name__, exc)
    return None


def answers_encoder(settings: Settings):
    """The encoder that answers questions (settings.encoder_weights). Raises EmbeddingUnavailable."""
    from .retrieval.embedding import ANSWERS, load_encoder

    return load_encoder(settings.cache_dir, settings.model_variant, settings.model_threads,
                        settings.encoder_weights, ANSWERS)


def concern_encoder(settings: Settings, answers=None):
    """The live-concern detector's encoder: the answers' one when both settings name the same
    weights file (one loaded model), else its own. Raises EmbeddingUnavailable."""
    from .retrieval.embedding import ANSWERS, CONCERNS, load_encoder, weights_file

    same = (weights_file(settings.concern_encoder_weights, CONCERNS)
            == weights_file(settings.encoder_weights, ANSWERS))
    if answers is not None and same:
        return answers
    return load_encoder(settings.cache_dir, settings.model_variant, settings.model_threads,
                        settings.concern_encoder_weights, CONCERNS)


def load_concerns(kb: KnowledgeBase, settings: Settings, encoder=None, own=None) -> ConcernDetector:
    """The live-concern detector: lexicon and semantic layers, or the lexicon alone (said
    once in the log) when the semantic stage is off or the model cannot load. The semantic
    layer reads only the shipped concern bank, never the schools' clauses, so its verdicts
    do not depend on which schools are loaded. `encoder`: the answers' encoder, if loaded;
    `own`: the detector's own encoder, already loaded (a reload)."""
    bank = kb.concerns
    thresholds = Thresholds.load(model_path(concern_root(kb.root)))
    if bank.exemplars and thresholds.bank_digest and thresholds.bank_digest != bank.digest:
        log.warning("the concern bank changed since its thresholds were fitted; "
                    "run policybot concerns fit (see README, Live concerns)")
    if not settings.semantic:
        log.warning("live-concern detection on the lexicon alone (POLICYBOT_SEMANTIC=off): "
                    "concerns described without keywords will be missed")
        return ConcernDetector(bank, thresholds)
    from .retrieval.embedding import EmbeddingUnavailable
    from .retrieval.vector_cache import VectorCache

    try:
        encoder = own or concern_encoder(settings, encoder)
        cache = VectorCache(settings.cache_dir, encoder.version + "-concerns",
                            seed=seed_path(concern_root(kb.root), encoder.version))
        index = build_index(bank, lambda texts: cache.vectors(texts, encoder.encode)[0])
        log.info("live-concern detection: lexicon + semantic layer over %d concern exemplars and %d hard "
                 "negatives (thresholds fitted on %s)", len(bank.concerns), len(bank.negatives),
                 ", ".join(thresholds.fitted_on) or "nothing: defaults")
        return ConcernDetector(bank, thresholds, index, encoder)
    except (EmbeddingUnavailable, ValueError) as exc:
        log.warning("live-concern detection on the lexicon alone: %s", exc)
    return ConcernDetector(bank, thresholds)


def write_concern_seed(bot: PolicyBot, settings: Settings) -> Path:
    """Ship the concern bank's vectors beside it (see seed_path); returns where."""
    from .retrieval.vector_cache import VectorCache

    encoder, bank = bot.concerns.encoder, bot.kb.concerns
    cache = VectorCache(settings.cache_dir, encoder.version + "-concerns")
    texts = index_texts(bank)
    cache.vectors(texts, encoder.encode)
    target = seed_path(concern_root(bot.kb.root), encoder.version)
    cache.write_seed(target, texts)
    return target


def build_bot(settings: Settings, kb: KnowledgeBase | None = None, mode: str | None = None,
              semantic=None, concerns: ConcernDetector | None = None,
              lexical: BM25Retriever | None = None) -> PolicyBot:
    """The bot in `mode` (default: fused when settings.semantic and the model loads, else
    bm25). `semantic`, `concerns` and `lexical` let callers that build several bots share one
    loaded scorer, one concern detector and one set of BM25 indexes."""
    limit_blas_threads(settings.blas_threads)
    kb = kb or load_knowledge(settings.knowledge_dir, settings.cache_dir)
    lexical = lexical or BM25Retriever(kb)
    mode = mode or (FUSED if settings.semantic else BM25)
    retriever = lexical
    if mode != BM25:
        semantic = semantic or load_semantic(kb, settings)
        if semantic is None:
            mode = BM25
        else:
            from .retrieval.fusion import FusedRetriever

            retriever = FusedRetriever(lexical, semantic, mode)
    model = AnswerabilityModel.load(settings.knowledge_dir / MODEL_FILE, mode)
    if concerns is None:
        concerns = load_concerns(kb, settings, semantic.encoder if semantic is not None else None)
    return PolicyBot(kb, retriever, settings, model, mode, concerns)


def _encoder_of(bot: PolicyBot | None):
    """The sentence encoder a built bot already holds (None: BM25 only, or no bot)."""
    semantic = getattr(getattr(bot, "retriever", None), "semantic", None)
    return getattr(semantic, "encoder", None)


def build_like(settings: Settings, kb: KnowledgeBase, like: PolicyBot | None) -> PolicyBot:
    """A bot over `kb` that reuses what `like` (the bot serving now) already loaded: the sentence
    encoder (no second ONNX session) and the live-concern detector while its bank and thresholds
    are unchanged. Clause vectors come from the on-disk cache, so only texts that are new or
    changed are encoded. Used for a reload and for a draft tried in the authoring view."""
    semantic = None
    encoder = _encoder_of(like)
    if settings.semantic and encoder is not None:
        from .retrieval.semantic import SemanticScorer

        semantic = SemanticScorer(kb, encoder, settings.cache_dir)
    concerns = None
    if like is not None and like.concerns.bank == kb.concerns:
        thresholds = Thresholds.load(model_path(concern_root(kb.root)))
        if thresholds == like.concerns.thresholds:
            concerns = like.concerns
    if concerns is None and like is not None and like.concerns.encoder is not None:
        concerns = load_concerns(kb, settings, encoder, own=like.concerns.encoder)  # no second ONNX session
    return build_bot(settings, kb, semantic=semantic, concerns=concerns)


class BotBuilder:
    """The server's bot factory: the first call builds from scratch, each later call (a reload)
    re-reads and validates the knowledge directory exactly as `policybot kb check` does
    (KnowledgeError lists every problem as file:line) and builds the new bot with what the
    previous one loaded (build_like)."""

    def __init__(self) -> None:
        self.last: PolicyBot | None = None

    def __call__(self, settings: Settings) -> PolicyBot | Iterator[PolicyBot]:
        """The first call: the bots in the order they can serve (build_stages), so the server
        answers with BM25 while the clause vectors are encoded. A reload: one bot, built whole."""
        kb = load_knowledge(settings.knowledge_dir, settings.cache_dir)
        if self.last is None:
            return self._stages(settings, kb)
        bot = build_like(settings, kb, self.last)
        self.last = bot
        return bot

    def _stages(self, settings: Settings, kb: KnowledgeBase) -> Iterator[PolicyBot]:
        for bot in build_stages(settings, kb):
            self.last = bot
            yield bot


def _encoder(settings: Settings):
    """The sentence encoder, or None with the reason logged."""
    from .retrieval.embedding import EmbeddingUnavailable

    try:
        return answers_encoder(settings)
    except EmbeddingUnavailable as exc:
        log.warning("semantic stage off: %s; answering with BM25 only", exc)
        return None


def build_stages(settings: Settings, kb: KnowledgeBase | None = None) -> Iterator[PolicyBot]:
    """The bot in the order it can serve, for a server that should answer as soon as it can.

    First the BM25 bot: the knowledge base, the lexical indexes and the whole live-concern
    detector (its semantic layer reads only the concern bank, the same at 5 schools or 500, so
    concerns are never checked on the lexicon alone for want of time). Then, when the semantic
    stage is on and its model loads, the fused bot over every school's clause vectors, which on a
    cold cache at hundreds of schools takes minutes. Each bot answers with its own mode's model."""
    limit_blas_threads(settings.blas_threads)
    kb = kb or load_knowledge(settings.knowledge_dir, settings.cache_dir)
    encoder = _encoder(settings) if settings.semantic else None
    concerns = load_concerns(kb, settings, encoder)
    first = build_bot(settings, kb, mode=BM25, concerns=concerns)
    yield first
    if encoder is None:
        return
    semantic = load_semantic(kb, settings, encoder)
    if semantic is not None:
        yield build_bot(settings, kb, mode=FUSED, semantic=semantic, concerns=concerns, lexical=first.retriever)
