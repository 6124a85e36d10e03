"""Measuring live-concern detection leave-one-set-out: thresholds fitted on the other
question sets, measured on the held-out one, every way round.

Each question is assessed once (both layers' evidence, and the answer the policy alone would
give); re-deciding at another fold's thresholds is then arithmetic, not another search. What is
reported per held-out set: urgent recall, false urgent (urgent given to a question that is not
a live concern), answered-correct on the answerable questions (so a false alarm that costs an
answer shows), and the ids of every miss and every false alarm, beside the lexicon alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decide.answer import ANSWER, URGENT, PolicyBot, clean_question
from .decide.concern import Evidence, Thresholds, decide, fit_thresholds
from .evaluate import Item, Outcome


@dataclass(frozen=True)
class Assessed:
    item: Item
    evidence: Evidence
    policy: Outcome  # what the bot decides when no concern is found


def assess(bot: PolicyBot, items: list[Item]) -> list[Assessed]:
    out = []
    for item in items:
        text = clean_question(item.question, bot.settings.max_question_chars)
        evidence = bot.concerns.evidence(text)
        answer, result = bot.decide_from_policy(bot.kb.school(item.school), text)
        ranked = tuple(h.clause.text for h in result.hits) if result else ()
        out.append(Assessed(item, evidence, Outcome(item, answer.decision, answer.confidence, ranked,
                                                     tuple(c.text for c in answer.citations))))
    return out


def lexicon_only(ev: Evidence) -> Evidence:
    """The same evidence with the semantic layer taken away: the lexicon alone decides."""
    return Evidence(ev.lexicon, None)


def outcomes_at(assessed: list[Assessed], t: Thresholds, lexicon: bool = False) -> list[Outcome]:
    out = []
    for a in assessed:
        ev = lexicon_only(a.evidence) if lexicon else a.evidence
        if decide(ev, t) is not None:
            out.append(Outcome(a.item, URGENT, 1.0, (), ()))
        else:
            out.append(a.policy)
    return out


def fit_on(sets: dict[str, list[Assessed]], names: list[str], bank_digest: str = "") -> Thresholds:
    pooled = [a for name in names for a in sets[name]]
    return fit_thresholds([a.evidence for a in pooled], [a.item.urgent for a in pooled],
                          fitted_on=tuple(names), bank_digest=bank_digest)


@dataclass(frozen=True)
class FoldResult:
    held_out: str
    thresholds: Thresholds
    n: int
    urgent: int
    urgent_recall: float
    false_urgent: float
    answered_correct: float
    lexicon_urgent_recall: float
    lexicon_false_urgent: float
    lexicon_answered_correct: float
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]


def _rates(outcomes: list[Outcome]) -> tuple[float, float, float, tuple[str, ...], tuple[str, ...]]:
    urgent = [o for o in outcomes if o.item.urgent]
    other = [o for o in outcomes if not o.item.urgent]
    answerable = [o for o in outcomes if o.item.expect == ANSWER and not o.item.urgent]
    recall = np.mean([o.decision == URGENT for o in urgent]) if urgent else float("nan")
    false = np.mean([o.decision == URGENT for o in other]) if other else float("nan")
    correct = (np.mean([o.decision == ANSWER and o.hit(o.cited[:3]) for o in answerable])
               if answerable else float("nan"))
    missed = tuple(o.item.id for o in urgent if o.decision != URGENT)
    alarms = tuple(o.item.id for o in other if o.decision == URGENT)
    return float(recall), float(false), float(correct), missed, alarms


def leave_one_set_out(sets: dict[str, list[Assessed]], bank_digest: str = "") -> list[FoldResult]:
    """One fold per set: thresholds fitted on all the others, measured on it."""
    if len(sets) < 2:
        raise ValueError("leave-one-set-out needs at least two question sets")
    results = []
    for held_out, assessed in sets.items():
        t = fit_on(sets, [n for n in sets if n != held_out], bank_digest)
        recall, false, correct, missed, alarms = _rates(outcomes_at(assessed, t))
        lex_recall, lex_false, lex_correct, _, _ = _rates(outcomes_at(assessed, t, lexicon=True))
        results.append(FoldResult(held_out, t, len(assessed), sum(a.item.urgent for a in assessed),
                                  recall, false, correct, lex_recall, lex_false, lex_correct, missed, alarms))
    return results


def report(results: list[FoldResult]) -> str:
    lines = ["== live concerns, leave-one-set-out (thresholds fitted on the other sets, measured on this one)",
             f"{'held out':16}{'n':>5}{'urgent':>8}{'urg-rec':>9}{'false-urg':>11}{'ans-ok':>8}   "
             f"{'lexicon alone: urg-rec':>22}{'false-urg':>11}{'ans-ok':>8}   thresholds (margin / topic)"]
    for r in results:
        lines.append(f"{r.held_out:16}{r.n:>5}{r.urgent:>8}{r.urgent_recall:>9.2f}{r.false_urgent:>11.3f}"
                     f"{r.answered_correct:>8.2f}   {r.lexicon_urgent_recall:>22.2f}{r.lexicon_false_urgent:>11.3f}"
                     f"{r.lexicon_answered_correct:>8.2f}   {r.thresholds.margin:+.3f} / {r.thresholds.topic_margin:+.3f}")
    mean = lambda f: float(np.nanmean([f(r) for r in results]))  # noqa: E731
    lines.append(f"{'mean':16}{'':>5}{'':>8}{mean(lambda r: r.urgent_recall):>9.2f}"
                 f"{mean(lambda r: r.false_urgent):>11.3f}{mean(lambda r: r.answered_correct):>8.2f}   "
                 f"{mean(lambda r: r.lexicon_urgent_recall):>22.2f}{mean(lambda r: r.lexicon_false_urgent):>11.3f}"
                 f"{mean(lambda r: r.lexicon_answered_correct):>8.2f}")
    lines.append("(ans-ok here uses the shipped answerability model, in-sample for the files it was fitted on: "
                 "it shows what false alarms cost; the held-out answer figures are further down)")
    for r in results:
        lines.append(f"{r.held_out}: missed urgent: {', '.join(r.missed) or 'none'}; "
                     f"false urgent: {', '.join(r.false_alarms) or 'none'}")
    return "\n".join(lines) + "\n"
