"""Fitting the answerability model, and measuring it leave-one-set-out.

Each labelled question is searched once; its candidates keep their evidence, so fitting and
re-deciding under another fold's model is arithmetic, not another search.

Labels. A (question, clause) pair is positive when the question expects an answer and the
clause contains one of its gold substrings; every clause of a question that should be escalated
is negative. The question-level label is "should be answered, and a top-3 clause answers it".
Live concerns take no part (they are never answered from policy).

Protocol (`fit_on`): the pair model is fitted on every pair of the given sets. The question
model must see pair probabilities like those it will meet on new questions, not the pair model's
in-sample ones, so its rows are cross-fitted: each set's rows come from a pair model fitted on
the other sets (five folds of questions when only one set is given). The threshold is chosen on
those cross-fitted confidences, maximising answered-correct + escalation recall - wrong-clause
answers (a wrong clause given confidently is the costliest error), the highest among ties.
`leave_one_set_out` fits on all sets but one and measures on that one, every way round.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .decide.answer import ANSWER, ESCALATE, URGENT, PolicyBot
from .decide.answerability import PAIR_FEATURES, QUESTION_FEATURES, AnswerabilityModel, fit, question_features
from .evaluate import Outcome, metrics, norm

PAIR_L2 = 1.0
QUESTION_L2 = 1.0
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _gold_in(outcome: Outcome, text: str) -> bool:
    return outcome.item.expect == ANSWER and any(norm(g) in norm(text) for g in outcome.item.gold)


def _fittable(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.search is not None and not o.item.urgent]


def fit_pairs(outcomes: list[Outcome], mode: str):
    rows, labels = [], []
    for o in _fittable(outcomes):
        for c in o.search.candidates:
            rows.append(c.evidence)
            labels.append(_gold_in(o, c.hit.clause.text))
    return fit(rows, labels, PAIR_FEATURES[mode], PAIR_L2)




def _cross_fitted(sets: dict[str, list[Outcome]], mode: str) -> list[tuple[Outcome, dict, bool, AnswerabilityModel]]:
    """Every question of every set, with the question features a pair model fitted without it gives."""
    groups = list(sets.values())
    if len(groups) == 1:  # one set: five folds of its questions
        pool = _fittable(groups[0])
        order = np.random.default_rng(7).permutation(len(pool))
        groups = [[pool[i] for i in part] for part in np.array_split(order, 5)]
    out = []
    for k, group in enumerate(groups):
        rest = [o for j, g in enumerate(groups) if j != k for o in g]
        pair = fit_pairs(rest, mode)
        model = AnswerabilityModel(mode, pair, AnswerabilityModel.default(mode).question)
        for o in _fittable(group):
            ranked = model.rank(o.search)
            if ranked:
                label = any(_gold_in(o, c.hit.clause.text) for c, _ in ranked[:3])
                out.append((o, question_features(o.search, ranked), label, model))
    return out


def choose_threshold(decide_at) -> float:
    """The threshold maximising answered-correct + escalation recall - wrong-clause answers;
    the highest among equals (escalating is the safer error). `decide_at(t)` -> outcomes."""
    best, best_value = 0.5, -np.inf
    for t in THRESHOLDS:
        m = metrics(decide_at(float(t)))
        value = np.nansum([m["answered_correct"], m["escalation_recall_non_urgent"], -m["wrong_clause"]])
        if value >= best_value:
            best, best_value = float(t), value
    return best


def fit_on(bot: PolicyBot, sets: dict[str, list[Outcome]]) -> AnswerabilityModel:
    """The model fitted on these sets (see the module docstring for the protocol)."""
    mode = bot.mode
    pooled = [o for outcomes in sets.values() for o in outcomes]
    pair = fit_pairs(pooled, mode)
    crossed = _cross_fitted(sets, mode)
    question = fit([f for _, f, _, _ in crossed], [lab for _, _, lab, _ in crossed], QUESTION_FEATURES[mode],
                   QUESTION_L2)
    # The threshold, on the cross-fitted confidences: each question decided once by its fold's pair
    # model and the fitted question model; at threshold t it is answered when its confidence reaches t.
    answered = [redecide(bot, o, replace(fold, question=question, threshold=0.0)) for o, _, _, fold in crossed]
    seen = {id(o) for o, _, _, _ in crossed}
    others = [o for o in pooled if id(o) not in seen]

    def decide_at(t: float) -> list[Outcome]:
        return [a if a.confidence >= t or a.decision != ANSWER else replace(a, decision=ESCALATE)
                for a in answered] + others

    threshold = choose_threshold(decide_at)
    return AnswerabilityModel(mode, pair, question, threshold, "fitted on " + ", ".join(sets))


def redecide(bot: PolicyBot, outcome: Outcome, model: AnswerabilityModel) -> Outcome:
    """The outcome as `model` (at its threshold) would decide the same search."""
    if outcome.search is None or outcome.decision == URGENT:
        return outcome
    answer, result = bot.decide_from_search(bot.kb.school(outcome.item.school), outcome.text, outcome.search,
                                            model)
    return replace(outcome, decision=answer.decision, confidence=answer.confidence,
                   ranked=tuple(h.clause.text for h in result.hits), cited=tuple(c.text for c in answer.citations),
                   features=answer.features)


@dataclass(frozen=True)
class Fold:
    held_out: str
    model: AnswerabilityModel
    outcomes: list  # the held-out set decided by the model fitted without it


def leave_one_set_out(bot: PolicyBot, sets: dict[str, list[Outcome]]) -> list[Fold]:
    if len(sets) < 2:
        raise ValueError("leave-one-set-out needs at least two question sets")
    folds = []
    for held_out, outcomes in sets.items():
        model = fit_on(bot, {n: o for n, o in sets.items() if n != held_out})
        folds.append(Fold(held_out, model, [redecide(bot, o, model) for o in outcomes]))
    return folds


def at_threshold(bot: PolicyBot, folds: list[Fold], threshold: float) -> list[Fold]:
    """The folds' held-out sets decided by their own models at another threshold. With the
    shipped model's threshold this is what the shipped operating point does on sets its pair and
    question models never saw. The objective is flat over a wide range, so each fold's own
    threshold lands elsewhere in it than the shipped one (README "Confidence"), and the plain
    leave-one-set-out mean alone would describe an operating point that does not ship."""
    out = []
    for f in folds:
        model = replace(f.model, threshold=threshold)
        out.append(Fold(f.held_out, model, [redecide(bot, o, model) for o in f.outcomes]))
    return out


def long_questions(outcomes: list[Outcome], sentences: int = 3) -> list[Outcome]:
    """Questions of `sentences` or more sentences (the story-wrapped kind)."""
    from .retrieval.sentences import sentence_spans

    return [o for o in outcomes if len(sentence_spans(o.text or o.item.question)) >= sentences]


def _judged(outcomes: list[Outcome]) -> list[Outcome]:
    """The questions the answerability model gave a confidence to (reached retrieval, not live concerns)."""
    return [o for o in outcomes if o.search is not None and not o.item.urgent and o.features is not None]


def _cited_answers(o: Outcome) -> bool:
    """A question to answer, and a top-3 clause answers it: what the confidence is a probability of."""
    return o.item.expect == ANSWER and o.hit(o.ranked[:3])


def separation(outcomes: list[Outcome]) -> float:
    """How well the confidence orders questions, whatever the threshold: the chance that a
    question a cited clause answers gets a higher confidence than one it should not be answered
    from (escalations, and answers whose top three clauses miss the gold). The figures at the
    threshold move along one trade-off as features come and go; this says whether the order
    itself got better. NaN when either side is empty."""
    usable = _judged(outcomes)
    good = np.array([o.confidence for o in usable if _cited_answers(o)])
    bad = np.array([o.confidence for o in usable if not _cited_answers(o)])
    if not len(good) or not len(bad):
        return float("nan")
    above = (good[:, None] > bad[None, :]).sum() + 0.5 * (good[:, None] == bad[None, :]).sum()
    return float(above / (len(good) * len(bad)))


BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


def reliability(outcomes: list[Outcome]) -> list[tuple[str, int, float, float]]:
    """(bucket, questions, mean confidence, share where a cited clause answers a question that
    should be answered) for the questions that reached retrieval: does 70% mean 70%?"""
    usable = _judged(outcomes)
    rows = []
    for lo, hi in zip(BUCKETS, BUCKETS[1:]):
        inside = [o for o in usable if lo <= o.confidence < hi or (hi == 1.0 and o.confidence == 1.0)]
        if not inside:
            rows.append((f"{lo:.1f}-{hi:.1f}", 0, float("nan"), float("nan")))
            continue
        observed = np.mean([_cited_answers(o) for o in inside])
        rows.append((f"{lo:.1f}-{hi:.1f}", len(inside), float(np.mean([o.confidence for o in inside])),
                     float(observed)))
    return rows


def reliability_report(outcomes: list[Outcome]) -> str:
    lines = [f"{'confidence':>12}{'questions':>11}{'predicted':>11}{'observed':>10}"]
    for bucket, n, predicted, observed in reliability(outcomes):
        fmt = lambda v: "    -" if v != v else f"{v:5.2f}"  # noqa: E731
        lines.append(f"{bucket:>12}{n:>11}{fmt(predicted):>11}{fmt(observed):>10}")
    return "\n".join(lines) + "\n"
