"""The layered concern detector: how the two layers combine, how thresholds are fitted, and
the bundled bank and model on messages written for these tests (none from an eval file)."""
import numpy as np
import pytest

from bot.decide import safeguarding
from bot.decide.concern import (LEXICON, SEMANTIC, Evidence, Thresholds, decide, fit_thresholds, units_of)
from bot.decide.concern_index import ConcernIndex

T = Thresholds(margin=0.02, topic_margin=-0.04)
REPORT = safeguarding.Match("abuse-neglect", safeguarding.REPORT, "says daddy hits her")
TOPIC = safeguarding.Match("self-harm", safeguarding.TOPIC, "suicide")


def test_a_report_pattern_raises_urgent_whatever_the_semantic_layer_says():
    concern = decide(Evidence(REPORT, margin=-0.5), T)
    assert concern is not None and concern.layer == LEXICON and concern.category == "abuse-neglect"


def test_a_topic_word_needs_the_semantic_layer_to_agree_a_little():
    assert decide(Evidence(TOPIC, margin=-0.2), T) is None          # a PSHE lesson on suicide
    assert decide(Evidence(TOPIC, margin=-0.03), T).layer == LEXICON  # above topic_margin
    assert decide(Evidence(TOPIC, margin=None), T).layer == LEXICON   # no model: recall first


def test_the_semantic_layer_raises_urgent_on_its_own_at_its_threshold():
    assert decide(Evidence(None, 0.019, ("grooming",), "s"), T) is None
    concern = decide(Evidence(None, 0.02, ("grooming", "sextortion"), "he told her to keep it secret"), T)
    assert concern.layer == SEMANTIC and concern.category == "grooming" and concern.also == ("sextortion",)
    assert concern.evidence == "he told her to keep it secret"


def test_fit_thresholds_keeps_every_concern_when_it_can_and_then_the_fewest_false_alarms():
    evidence = [Evidence(None, m) for m in (0.05, 0.03, 0.011, -0.02, -0.03, 0.0)]
    urgent = [True, True, True, False, False, False]
    t = fit_thresholds(evidence, urgent, fitted_on=("a.yaml",), bank_digest="abc")
    flagged = [decide(ev, t) is not None for ev in evidence]
    assert flagged == urgent
    assert t.fitted_on == ("a.yaml",) and t.bank_digest == "abc"


def test_fit_thresholds_prefers_recall_over_one_false_alarm():
    # The lowest concern sits below one negative: catching it costs that false alarm, and pays.
    evidence = [Evidence(None, m) for m in (0.05, -0.01, 0.0, -0.05, -0.06)]
    urgent = [True, True, False, False, False]
    t = fit_thresholds(evidence, urgent)
    assert decide(evidence[1], t) is not None


def test_fit_thresholds_needs_both_classes():
    with pytest.raises(ValueError):
        fit_thresholds([Evidence(None, 0.1)], [True])


def test_thresholds_file_round_trips_and_a_missing_file_gives_the_defaults(tmp_path):
    path = tmp_path / "model.yaml"
    Thresholds(0.013, -0.021, ("x.yaml",), "d1").save(path, "test")
    loaded = Thresholds.load(path)
    assert (loaded.margin, loaded.topic_margin, loaded.fitted_on, loaded.bank_digest) == (0.013, -0.021, ("x.yaml",), "d1")
    assert Thresholds.load(tmp_path / "absent.yaml") == Thresholds()


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_index_margin_is_nearer_concerns_minus_nearer_negatives_and_category_by_centroid():
    concerns = np.stack([_unit([1, 0.1, 0]), _unit([1, 0, 0.1]), _unit([0, 1, 0])])
    negatives = np.stack([_unit([0, 0, 1]), _unit([0, 0.1, 1])])
    index = ConcernIndex(concerns, ["grooming", "grooming", "missing"], negatives, k=2)
    units = np.stack([_unit([0, 0, 1]), _unit([1, 0, 0])])  # a negative-like whole, a concern-like sentence
    best = index.best(units)
    assert best.unit == 1 and best.margin > 0 and best.categories == ("grooming",)
    assert index.margins(units)[0] < 0
    # Halfway between two centroids: both categories, nearest first.
    between = index.best(np.stack([_unit([0.7, 0.75, 0.05])]))
    assert between.categories == ("missing", "grooming")


def test_units_are_the_whole_question_then_its_sentences():
    assert units_of("can I friend an ex-pupil who is 18?") == ["can I friend an ex-pupil who is 18?"]
    q = "I teach Year 4. One of them said a man online sends her gifts. Can I post the class photo?"
    assert units_of(q)[0] == q and len(units_of(q)) == 4
