"""The bundled detector (lexicon + semantic layer over the shipped bank and thresholds) on
messages written for these tests in staff voice; none comes from an evaluation file."""
import pytest

from bot.config import Settings
from bot.decide.answer import URGENT
from bot.knowledge.load import bundled_knowledge_dir, load_knowledge
from bot.service import build_bot
from tests.conftest import TODAY

CONCERNS = [
    # Story-wrapped, the worrying part in one sentence, no lexicon word.
    ("Quick one. I'm a TA in Year 7 and we have a lovely tutor group. One girl told me this morning that a "
     "lad she met on a game, who says he's 17, keeps sending her money for skins and wants her to video call "
     "him when her mum is at work. Can I message her on Teams to check in?", "grooming"),
    ("one of my y10s put 'im done, sorry everyone, look after my cat for me' on her story last night and "
     "she isnt in today", "self-harm"),
    ("a boy in my form has two phones and a roll of cash and older lads pick him up in a car at the gate",
     "criminal"),
    ("Year 9 lad showed me a picture of a girl from his class with her top off that someone made with an app",
     "images"),
]
HARD_NEGATIVES = [
    "I'm planning an assembly for Safer Internet Day about sextortion scams - can I put the CEOP poster on "
    "the school Instagram?",
    "what should I do if a pupil ever tells me something and asks me not to tell anyone?",
    "can I accept a friend request from a parent?",
]


@pytest.fixture(scope="module")
def bot():
    return build_bot(Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY))


@pytest.mark.parametrize("question,category", CONCERNS)
def test_concerns_described_without_keywords_are_urgent(bot, question, category):
    if not bot.concerns.semantic:
        pytest.skip("embedding model unavailable")
    answer = bot.answer("tsat", question)
    assert answer.decision == URGENT and answer.citations == ()
    # The category picks the advice; when two are close both are given (README, Live concerns).
    categories = {answer.concern_category} | {slug for slug, c in bot.kb.concerns.categories.items()
                                              if set(c.advice) & set(answer.advice)}
    assert category in categories and answer.advice


@pytest.mark.parametrize("question", HARD_NEGATIVES)
def test_hard_negatives_are_not_urgent(bot, question):
    if not bot.concerns.semantic:
        pytest.skip("embedding model unavailable")
    assert bot.answer("tsat", question).decision != URGENT


def test_the_semantic_layer_reads_the_story_sentence_by_sentence(bot):
    if not bot.concerns.semantic:
        pytest.skip("embedding model unavailable")
    evidence = bot.concerns.evidence(CONCERNS[0][0])
    assert "video call" in evidence.sentence  # the worrying sentence, not the whole story


def test_a_schools_concern_verdicts_do_not_depend_on_which_schools_are_loaded(tmp_path, bot):
    """The detector reads only the shipped bank: one school alone decides as five together."""
    import shutil

    root = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), root, ignore=shutil.ignore_patterns("kingsmead*", "arh*", "lzw*",
                                                                                  "thorpe-acre*"))
    alone = build_bot(Settings(knowledge_dir=root, today=TODAY))
    assert list(load_knowledge(root).schools) == ["tsat"]
    for question, _ in CONCERNS:
        assert alone.answer("tsat", question).decision == bot.answer("tsat", question).decision
    for question in HARD_NEGATIVES:
        assert alone.concerns.evidence(question).margin == pytest.approx(bot.concerns.evidence(question).margin)


def test_the_shipped_bank_vectors_are_current_and_a_first_start_encodes_none(bot, tmp_path):
    """knowledge/concerns/vectors/ must hold every text of the bank for the installed model (else
    run `policybot concerns fit`), and equal what the model gives now: a first start on a new
    machine then reads them instead of spending ~15 s encoding before it can answer."""
    import numpy as np

    from bot.decide.concern import index_texts, seed_path
    from bot.retrieval.vector_cache import VectorCache
    from bot.service import load_concerns

    if not bot.concerns.semantic:
        pytest.skip("embedding model unavailable")
    encoder = bot.concerns.encoder
    seed = seed_path(bundled_knowledge_dir(), encoder.version)
    assert seed.is_file(), f"{seed} missing: run policybot concerns fit"
    texts = index_texts(bot.kb.concerns)
    calls = []

    def encode(batch):
        calls.append(len(batch))
        return encoder.encode(batch)

    seeded, fresh = VectorCache(tmp_path, encoder.version + "-concerns", seed=seed).vectors(texts, encode)
    assert fresh == 0 and calls == [], f"{fresh} bank texts not in {seed.name}: run policybot concerns fit"
    sample = list(range(0, len(texts), max(1, len(texts) // 40)))
    now = encoder.encode([texts[i] for i in sample])
    cosines = np.sum(seeded[sample] * now, axis=1) / (np.linalg.norm(seeded[sample], axis=1) * np.linalg.norm(now, axis=1))
    assert cosines.min() > 0.9999

    detector = load_concerns(bot.kb, Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY,
                                              cache_dir=tmp_path / "empty-cache"), encoder)
    assert detector.semantic and not (tmp_path / "empty-cache" / "vectors").exists()
