"""Where a school's policy or vocabulary falls short: the questions the bot could not answer
(escalated) or answered unhelpfully ("Not helpful"), grouped by the clause they came nearest.

A clause that gathers many of them is worth a look: its wording, its `about` phrasings or a
synonym may be missing what staff say; questions that came near no clause at all point at
something the policy does not cover. Live concerns are left out: they are not policy gaps.
Question text is shown only while it is kept (the retention purge blanks it).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .feedback import ANSWERED_EVENT, VOTE_EVENT, FeedbackRecord
from .model import Escalation

NO_MATCH = "(no clause matched)"
PURGED = "(text removed after the retention period)"


@dataclass(frozen=True)
class GapQuestion:
    kind: str        # "escalated" or "not helpful"
    question: str    # PURGED once blanked
    created_at: float
    reason: str = ""  # the escalation's reason (low_confidence, policy_silent, out_of_scope, asked_by_user)


@dataclass(frozen=True)
class Gap:
    clause: str      # the nearest clause's id, or NO_MATCH
    where: str       # "Policy, section" when known
    questions: tuple[GapQuestion, ...]

    def as_dict(self) -> dict:
        return {"clause": self.clause, "where": self.where, "count": len(self.questions),
                "questions": [{"kind": q.kind, "question": q.question, "reason": q.reason,
                               "created_at": q.created_at} for q in self.questions]}


def gaps(escalations: list[Escalation], feedback: list[FeedbackRecord]) -> list[Gap]:
    """Groups, most questions first; the no-match group last whatever its size."""
    groups: dict[str, list[GapQuestion]] = defaultdict(list)
    where: dict[str, str] = {}
    for esc in escalations:
        if esc.urgent:
            continue
        key = esc.candidates[0].clause_id if esc.candidates else NO_MATCH
        if esc.candidates:
            where.setdefault(key, esc.candidates[0].ref)
        groups[key].append(GapQuestion("escalated", esc.question or PURGED, esc.created_at, esc.reason))
    answered = {r.answer_ref: r for r in feedback if r.event == ANSWERED_EVENT}
    for vote in feedback:
        if vote.event != VOTE_EVENT or vote.helpful is not False:
            continue
        asked = answered.get(vote.answer_ref)
        key = vote.clauses[0] if vote.clauses else NO_MATCH
        groups[key].append(GapQuestion("not helpful", (asked.question if asked else "") or PURGED, vote.created_at))
    out = [Gap(k, where.get(k, ""), tuple(sorted(v, key=lambda q: q.created_at))) for k, v in groups.items()]
    return sorted(out, key=lambda g: (g.clause == NO_MATCH, -len(g.questions), g.clause))
