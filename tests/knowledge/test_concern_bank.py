"""The bundled concern bank: big enough, every category with advice, and the shipped
thresholds fitted on this bank (not a stale one)."""
from collections import Counter

from bot.decide.concern import Thresholds, model_path
from bot.knowledge.concerns import SOURCES
from bot.knowledge.load import bundled_knowledge_dir, load_knowledge

CATEGORIES = {"grooming", "images", "sextortion", "self-harm", "abuse-neglect", "violence", "criminal",
              "radicalisation", "missing", "trust"}


def test_at_least_400_concerns_across_every_category_and_400_hard_negatives():
    bank = load_knowledge(bundled_knowledge_dir()).concerns
    per = Counter(e.label for e in bank.concerns)
    assert set(per) == CATEGORIES and min(per.values()) >= 40 and sum(per.values()) >= 400
    assert len(bank.negatives) >= 400
    # The hard negatives the issue names, beyond ordinary policy questions.
    topics = {e.label for e in bank.negatives}
    assert {"teaching", "hypothetical", "past", "adults"} <= topics


def test_every_category_has_short_advice_and_every_exemplar_a_published_source():
    bank = load_knowledge(bundled_knowledge_dir()).concerns
    for slug in CATEGORIES:
        category = bank.category(slug)
        assert category.advice and all(len(a.split()) <= 25 for a in category.advice), slug
    assert {e.file for e in bank.concerns}  # files recorded
    lines = [line for f in sorted((bundled_knowledge_dir() / "concerns").glob("*.yaml"))
             if f.name != "model.yaml" for line in f.read_text().splitlines() if line.strip().startswith("source:")]
    assert lines and all(line.split(":", 1)[1].strip() in SOURCES for line in lines)


def test_the_shipped_thresholds_were_fitted_on_this_bank():
    kb = load_knowledge(bundled_knowledge_dir())
    t = Thresholds.load(model_path(bundled_knowledge_dir()))
    assert t.bank_digest == kb.concerns.digest, "the bank changed: run policybot concerns fit (README)"
    assert t.fitted_on and t.topic_margin <= t.margin
