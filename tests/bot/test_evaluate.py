"""The measuring stick itself: metrics on hand-made outcomes, and a baseline that cannot see the answers."""
from __future__ import annotations

import math

import numpy as np

from bot.decide.answerability import fit
from bot.evaluate import Item, Outcome, metrics, norm


def outcome(expect, decision, gold=(), ranked=(), cited=(), urgent=False, school="s"):
    return Outcome(Item("q", school, "?", expect, tuple(gold), urgent), decision, 0.5, tuple(ranked), tuple(cited))


def test_metrics_count_each_measure_over_its_own_questions():
    outs = [
        outcome("answer", "answer", ["must not post"], ["Staff must NOT post photos", "x"], ["Staff must NOT post photos"]),
        outcome("answer", "answer", ["must not post"], ["x", "y", "staff must not  post"], ["x"]),  # right clause ranked 3rd, not cited
        outcome("answer", "escalate", ["friends"], ["friends with former students"], ["friends with former students"]),
        outcome("escalate", "escalate"),
        outcome("escalate", "answer"),
        outcome("escalate", "urgent", urgent=True),
        outcome("escalate", "escalate", urgent=True),
    ]
    m = metrics(outs)
    assert m["answered_correct"] == 1 / 3
    assert m["recall@1"] == 2 / 3
    assert m["recall@3"] == 1.0
    assert m["escalation_recall"] == 3 / 4
    assert m["urgent_recall"] == 1 / 2
    assert m["false_escalation"] == 1 / 3
    assert m["false_urgent"] == 0.0


def test_empty_groups_are_nan_not_zero():
    m = metrics([outcome("answer", "answer", ["a"], ["a"], ["a"])])
    assert math.isnan(m["escalation_recall"]) and math.isnan(m["urgent_recall"])


def test_gold_comparison_folds_quotes_dashes_case_and_space():
    assert norm("Staff \u2018friends\u2019 \u2013  OK") == "staff 'friends' - ok"


def test_logistic_fit_orders_by_the_informative_feature():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(200, 2))
    y = (x[:, 0] + rng.normal(0, 0.1, 200) > 0.5).astype(float)
    model = fit([{"a": a, "b": b} for a, b in x], list(y > 0), ("a", "b"), l2=0.1)
    # standardised features: the informative one carries the weight, the noise one next to none
    assert model.weights[0] > 3 and abs(model.weights[1]) < 0.5
    p = model.probabilities([{"a": 0.9, "b": 0.5}, {"a": 0.1, "b": 0.5}])
    assert p[0] > 0.9 and p[1] < 0.1


def _scored(expect, confidence, ranked, gold=("yes",)):
    """An outcome that reached retrieval (a search and features), at `confidence`."""
    from dataclasses import replace

    return replace(outcome(expect, "answer", gold, ranked, ranked[:1]), confidence=confidence, features={},
                   search=object())


def test_separation_is_the_chance_a_good_answer_outranks_a_bad_one():
    from bot.evaluate_answers import separation

    good = [_scored("answer", c, ["yes it is"]) for c in (0.9, 0.8, 0.6)]
    escalations = [_scored("escalate", c, ["yes it is"], gold=()) for c in (0.7, 0.2)]
    missed = [_scored("answer", 0.95, ["no"])]  # answerable, but no top-3 clause has the gold
    # pairs (good, bad): 3 x 3 = 9; good above bad: 0.9 > 0.7, 0.2; 0.8 > 0.7, 0.2; 0.6 > 0.2 -> 5
    assert math.isclose(separation(good + escalations + missed), 5 / 9)
    assert separation(good) != separation(good)  # NaN: nothing to order against
    assert separation(good + [_scored("escalate", 0.1, ["x"], gold=())]) == 1.0


def test_at_threshold_redecides_each_held_out_question_by_its_own_confidence(tiny_kb):
    """The 'mean at the shipped threshold' row: the fold's own models, only the threshold moved."""
    from dataclasses import replace

    from bot.decide.answer import ANSWER, ESCALATE
    from bot.evaluate import run_bot
    from bot.evaluate_answers import Fold, at_threshold, redecide
    from tests.bot.decide.test_answer import make_bot

    bot = make_bot(tiny_kb)
    items = [Item("1", "alpha", "can I post pics of my class on my facebook?", ANSWER, ("Photographs of pupils",)),
             Item("2", "beta", "friend requests from former pupils", ANSWER, ("former pupils",)),
             Item("3", "beta", "may the academy monitor my phone?", ANSWER, ("monitor internet use",)),
             Item("4", "alpha", "what colour is the staffroom kettle?", ESCALATE)]
    model = replace(bot.model, threshold=0.0)
    fold = Fold("set", model, [redecide(bot, o, model) for o in run_bot(bot, items)])
    confidences = sorted({o.confidence for o in fold.outcomes if o.decision == ANSWER})
    assert len(confidences) >= 2, "the example needs answers at two confidences"
    t = confidences[-1]
    (moved,) = at_threshold(bot, [fold], t)
    assert moved.held_out == "set" and moved.model.threshold == t
    for before, after in zip(fold.outcomes, moved.outcomes):
        assert after.confidence == before.confidence
        if before.decision == ANSWER:
            assert after.decision == (ANSWER if before.confidence >= t else ESCALATE)
        else:
            assert after.decision == before.decision
    assert [o.decision for o in moved.outcomes].count(ESCALATE) > [o.decision for o in fold.outcomes].count(ESCALATE)
