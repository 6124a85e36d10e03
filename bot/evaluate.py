"""Measuring the bot on a labelled question file, beside a naive baseline measured in the same run.

Question file: a YAML list of {id, school, question, expect: answer|escalate, gold: [verbatim
substrings], urgent: bool}. Measures, over the questions expecting each outcome:
  answered-correct  decision `answer` and a gold substring in one of the cited clauses (top 3)
  recall@1, @3      a gold substring in the top 1 / 3 clauses the retriever ranked (decision aside)
  recall@1, @3 are of the ranking the answerability model re-ranked (what the answer cites from)
  wrong clause      questions expecting an answer, answered with no gold substring in the cited clauses
  escalation recall questions expecting escalation (not live concerns: esc-rec) that were escalated
                    or marked urgent
  urgent recall     live-concern questions marked urgent
  false escalation  questions expecting an answer that were escalated or marked urgent
The baseline is rank-bm25 over raw clause text (lower-cased, split on spaces: no stemming,
synonyms, about phrases or safeguarding check) with the single top-score threshold that
does best on this same file, so the comparison flatters the baseline, not the bot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rank_bm25 import BM25Okapi as ReferenceBM25

from .decide.answer import ANSWER, ESCALATE, URGENT, PolicyBot, clean_question
from .knowledge.load import KnowledgeBase

_TRANS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u00a0": " "})


def norm(s: str) -> str:
    """How gold substrings are compared: lower case, ASCII quotes and dashes, whitespace folded."""
    return re.sub(r"\s+", " ", (s or "").translate(_TRANS).lower()).strip()


@dataclass(frozen=True)
class Item:
    id: str
    school: str
    question: str
    expect: str
    gold: tuple[str, ...] = ()
    urgent: bool = False


@dataclass(frozen=True)
class Outcome:
    item: Item
    decision: str
    confidence: float
    ranked: tuple[str, ...]  # clause texts in retrieval order
    cited: tuple[str, ...]   # clause texts the answer cites
    features: dict | None = None
    search: object = field(default=None, compare=False, repr=False)  # the SearchResult, for refitting
    text: str = ""  # the question as the bot read it

    def hit(self, texts: tuple[str, ...]) -> bool:
        return any(norm(g) in norm(t) for g in self.item.gold for t in texts)


def load_items(path: Path) -> list[Item]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    items = []
    for i, q in enumerate(data):
        if not isinstance(q, dict) or not {"school", "question", "expect"} <= q.keys():
            raise ValueError(f"{path}: entry {i + 1} needs school, question and expect")
        items.append(Item(str(q.get("id", i + 1)), q["school"], str(q["question"]), q["expect"],
                          tuple(q.get("gold") or ()), bool(q.get("urgent", False))))
    return items


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    ans = [o for o in outcomes if o.item.expect == ANSWER]
    esc = [o for o in outcomes if o.item.expect != ANSWER]
    urg = [o for o in outcomes if o.item.urgent]
    non_urgent = [o for o in outcomes if not o.item.urgent]

    def rate(xs: list, pred) -> float:
        return sum(1 for x in xs if pred(x)) / len(xs) if xs else float("nan")

    return {
        "n": len(outcomes),
        "answered_correct": rate(ans, lambda o: o.decision == ANSWER and o.hit(o.cited[:3])),
        "recall@1": rate(ans, lambda o: o.hit(o.ranked[:1])),
        "recall@3": rate(ans, lambda o: o.hit(o.ranked[:3])),
        "escalation_recall": rate(esc, lambda o: o.decision in (ESCALATE, URGENT)),
        "escalation_recall_non_urgent": rate([o for o in esc if not o.item.urgent],
                                             lambda o: o.decision in (ESCALATE, URGENT)),
        "urgent_recall": rate(urg, lambda o: o.decision == URGENT),
        "false_escalation": rate(ans, lambda o: o.decision != ANSWER),
        "wrong_clause": rate(ans, lambda o: o.decision == ANSWER and not o.hit(o.cited[:3])),
        "false_urgent": rate(non_urgent, lambda o: o.decision == URGENT),
    }


def misses(outcomes: list[Outcome]) -> str:
    """The ids behind the urgent columns: live concerns not marked urgent, and urgent given
    to questions that are not live concerns."""
    missed = [o.item.id for o in outcomes if o.item.urgent and o.decision != URGENT]
    false = [o.item.id for o in outcomes if not o.item.urgent and o.decision == URGENT]
    return (f"missed urgent ({len(missed)}): {', '.join(missed) or 'none'}\n"
            f"false urgent ({len(false)}): {', '.join(false) or 'none'}\n")


def run_bot(bot: PolicyBot, items: list[Item]) -> list[Outcome]:
    outcomes = []
    for item in items:
        text = clean_question(item.question, bot.settings.max_question_chars)
        answer, result = bot.decide(item.school, item.question)
        outcomes.append(outcome_of(item, answer, result, text))
    return outcomes


def outcome_of(item: Item, answer, result, text: str) -> Outcome:
    """Live concerns never reach retrieval: no ranking, no features, and they take no part in
    fitting (their decision does not depend on confidence)."""
    ranked = tuple(h.clause.text for h in result.hits) if result else ()
    return Outcome(item, answer.decision, answer.confidence, ranked, tuple(c.text for c in answer.citations),
                   answer.features if result else None, result, text)


def run_baseline(kb: KnowledgeBase, items: list[Item]) -> list[Outcome]:
    """Naive rank-bm25 over raw clause text, with the best single top-score threshold."""
    indexes = {}
    for slug, school in kb.schools.items():
        clauses = school.clauses
        indexes[slug] = (ReferenceBM25([c.text.lower().split() for c in clauses]), clauses)
    scored = []
    for item in items:
        index, clauses = indexes[item.school]
        scores = index.get_scores(item.question.lower().split())
        order = np.argsort(-scores, kind="stable")[:10]
        ranked = tuple(clauses[i].text for i in order)
        scored.append((item, float(scores[order[0]]), ranked))
    best: list[Outcome] = []
    best_value = -1.0
    for threshold in sorted({s for _, s, _ in scored} | {0.0, float("inf")}):
        outs = [Outcome(item, ANSWER if s >= threshold else ESCALATE, 0.0, ranked, ranked[:3])
                for item, s, ranked in scored]
        m = metrics(outs)
        value = np.nanmean([m["answered_correct"], m["escalation_recall"]])
        if value > best_value:
            best, best_value = outs, value
    return best


_COLUMNS = (("answered_correct", "ans-ok"), ("recall@1", "R@1"), ("recall@3", "R@3"),
            ("false_escalation", "false-esc"), ("wrong_clause", "wrong"),
            ("escalation_recall_non_urgent", "esc-rec"), ("urgent_recall", "urg-rec"),
            ("false_urgent", "false-urg"))


def _fmt(v: float) -> str:
    return "  -  " if v != v else f"{v:5.2f}"


def report(systems: dict[str, list[Outcome]]) -> str:
    """A table per system: overall, then per school."""
    lines = []
    header = f"{'':22}{'n':>4}  " + "  ".join(f"{label:>9}" for _, label in _COLUMNS)
    for name, outcomes in systems.items():
        lines.append(f"== {name}")
        lines.append(header)
        groups = [("overall", outcomes)] + [
            (s, [o for o in outcomes if o.item.school == s]) for s in sorted({o.item.school for o in outcomes})]
        for label, group in groups:
            m = metrics(group)
            lines.append(f"{label:22}{m['n']:>4}  " + "  ".join(f"{_fmt(m[k]):>9}" for k, _ in _COLUMNS))
        lines.append("")
    return "\n".join(lines)


def summary(systems: dict[str, list[Outcome]]) -> str:
    """The systems side by side, one overall row each."""
    width = max(len(name) for name in systems) + 2
    lines = [f"{'system':{width}}{'n':>4}  " + "  ".join(f"{label:>9}" for _, label in _COLUMNS)]
    for name, outcomes in systems.items():
        m = metrics(outcomes)
        lines.append(f"{name:{width}}{m['n']:>4}  " + "  ".join(f"{_fmt(m[k]):>9}" for k, _ in _COLUMNS))
    return "\n".join(lines) + "\n"
