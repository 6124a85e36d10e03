"""Feedback from every channel, and the per-school report `policybot feedback` prints.

Design (why one table with two kinds of row): a channel records an ANSWERED row each time it
replies to a question with an answer (decision, cited clause ids, the question text until the
retention purge), and a VOTE row for each person's Helpful / Not helpful on that answer. The
vote copies the answer's school, decision and clauses from its ANSWERED row, so every count
`policybot feedback` needs (answered, helpful, not helpful, per school and per clause) is a
scan of one table, and "escalated" comes from the escalations table that already holds it
(with its candidate clauses). A separate answers table would hold exactly the ANSWERED rows
and need a join for every vote; one table is simpler and the unique key (answer_ref, event,
asker_id) gives both "one answered row per answer" and "one vote per person per answer".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .model import Escalation

ANSWERED_EVENT, VOTE_EVENT = "answered", "vote"


@dataclass(frozen=True)
class FeedbackRecord:
    id: str
    answer_ref: str
    event: str  # ANSWERED_EVENT or VOTE_EVENT
    school: str
    platform: str
    asker_id: str  # the asker (answered) or the voter (vote), as the channel gives it
    decision: str
    clauses: tuple[str, ...]
    helpful: bool | None  # None on an ANSWERED row
    question: str | None  # ANSWERED rows only; '' once purged
    created_at: float
    purged_at: float | None = None


@dataclass
class Counts:
    answered: int = 0
    helpful: int = 0
    not_helpful: int = 0
    escalated: int = 0

    def as_dict(self) -> dict:
        return {"answered": self.answered, "helpful": self.helpful, "not_helpful": self.not_helpful,
                "escalated": self.escalated}


@dataclass
class SchoolFeedback:
    school: str
    totals: Counts = field(default_factory=Counts)
    clauses: dict[str, Counts] = field(default_factory=dict)

    def clause(self, clause_id: str) -> Counts:
        return self.clauses.setdefault(clause_id, Counts())

    def as_dict(self) -> dict:
        return {"school": self.school, **self.totals.as_dict(),
                "clauses": [{"clause": c, **n.as_dict()} for c, n in sorted(self.clauses.items(), key=_clause_key)]}


def _clause_key(item) -> tuple:
    parts = item[0].split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def report(records: Iterable[FeedbackRecord], escalations: Iterable[Escalation]) -> dict[str, SchoolFeedback]:
    """Per school: answers given, helpful / not helpful votes, escalations; and the same per
    cited clause (an escalation counts against each of its candidate clauses)."""
    out: dict[str, SchoolFeedback] = {}
    for r in records:
        school = out.setdefault(r.school, SchoolFeedback(r.school))
        targets = [school.totals] + [school.clause(c) for c in r.clauses]
        for counts in targets:
            if r.event == ANSWERED_EVENT:
                counts.answered += 1
            elif r.helpful:
                counts.helpful += 1
            else:
                counts.not_helpful += 1
    for e in escalations:
        school = out.setdefault(e.school, SchoolFeedback(e.school))
        school.totals.escalated += 1
        for c in {c.clause_id for c in e.candidates}:
            school.clause(c).escalated += 1
    return dict(sorted(out.items()))
