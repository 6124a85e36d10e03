"""answer(school, question) -> Answer: the one decision every channel renders.

Three outcomes. `urgent`: a live safeguarding concern, never answered from policy.
`answer`: the school's own clauses, quoted and cited, when the evidence is strong enough.
`escalate`: anything else goes to the school's named lead, with the closest clauses
attached for the lead (and shown to the asker as "closest, may not answer this").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from .concern import Concern, ConcernDetector
from .scope import in_scope
from .answerability import AnswerabilityModel, Judgement
from .headline import headline
from ..config import Settings
from ..knowledge.load import Clause, Contact, KnowledgeBase, School
from ..retrieval.lexical import Candidate, Hit, Retriever, SearchResult
from ..text_input import clean_text

ANSWER, ESCALATE, URGENT = "answer", "escalate", "urgent"

# Reasons, for logs, the escalation record and the reply's wording.
CONFIDENT = "confident"
AMBIGUOUS = "ambiguous"  # answered with the competing clauses side by side ("did you mean")
LOW_CONFIDENCE = "low_confidence"
NO_MATCH = "policy_silent"
OUT_OF_SCOPE = "out_of_scope"
LIVE_CONCERN = "urgent"

# A clause this close to the best one (relative probability of answering) competes with it for
# "did you mean".
AMBIGUITY_STRENGTH = 0.85
# A third clause is quoted only when it is at least this likely, relative to the second, to
# answer: a far weaker one dilutes the answer.
THIRD_CLAUSE_RATIO = 0.5

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def sent_unasked(answer: "Answer") -> bool:
    """Whether a channel escalates this answer without being asked: urgent and low-confidence
    ones, yes; an off-topic question (not about the policy at all) is not the DSL's to receive
    unasked, so its reply offers "Ask <lead> anyway" instead."""
    return answer.decision == URGENT or (answer.decision == ESCALATE and answer.reason != OUT_OF_SCOPE)


class QuestionError(ValueError):
    """A question the bot will not process (empty, too long, not text); the message is polite."""


@dataclass(frozen=True)
class Citation:
    clause_id: str
    section: str
    policy: str
    policy_id: str
    text: str
    school: str
    stance: str
    lead_in: str = ""
    score: float = 0.0
    situation: str = ""  # what the clause is about, in staff words (its first `about` phrasing)
    strength: float = 1.0  # relevance relative to the best clause found

    def as_dict(self) -> dict:
        """The batch contract's citation: id, section, policy, text, school (+ stance, lead_in)."""
        return {"id": self.clause_id, "section": self.section, "policy": self.policy, "text": self.text,
                "school": self.school, "stance": self.stance, "lead_in": self.lead_in,
                "situation": self.situation}


@dataclass(frozen=True)
class ReviewWarning:
    policy: str
    next_review: str
    due: date

    def as_dict(self) -> dict:
        return {"policy": self.policy, "next_review": self.next_review, "due": self.due.isoformat()}


@dataclass(frozen=True)
class Answer:
    school: str
    school_name: str
    decision: str
    confidence: float
    reason: str
    citations: tuple[Citation, ...]
    lead: Contact
    deputy: Contact
    review_warnings: tuple[ReviewWarning, ...] = ()
    concern: str = ""  # urgent answers: the concern's title, e.g. "self-harm or suicide"
    concern_category: str = ""  # its slug (knowledge/concerns/<slug>.yaml)
    advice: tuple[str, ...] = ()  # urgent answers: what to do for this kind of concern, from the bank
    headline: str = ""  # answers: the cited clauses' position in one line (decide/headline.py)
    features: dict = field(default_factory=dict, compare=False)

    @property
    def contacts(self) -> tuple[Contact, ...]:
        """Who the question goes to: lead and deputy at once when urgent, else the lead."""
        if self.decision == URGENT:
            return (self.lead, self.deputy)
        return (self.lead,) if self.decision == ESCALATE else ()


def clean_question(question: str, max_chars: int) -> str:
    """The question as the bot will read it, or QuestionError with a polite reason."""
    if not isinstance(question, str):
        raise QuestionError("Please send your question as text.")
    text = clean_text(question).strip()  # lone surrogates and NUL -> U+FFFD, counted as junk below
    if not text:
        raise QuestionError("Your question was empty. Please type it in a sentence, "
                            "e.g. \"can I accept a friend request from a parent?\"")
    if len(text) > max_chars:
        raise QuestionError(f"Your question is {len(text):,} characters long; please keep it under "
                            f"{max_chars:,} and ask about one thing at a time.")
    junk = len(_CONTROL.findall(text))
    if junk and junk / len(text) > 0.02:
        raise QuestionError("That doesn't look like a text question (it contains binary or control "
                            "characters). Please type your question.")
    if not re.search(r"[A-Za-z]{2,}", text):
        raise QuestionError("I couldn't find any words in that. Please type your question in a sentence.")
    return _CONTROL.sub(" ", text)


class PolicyBot:
    """The core: holds one loaded knowledge base and a retriever over it."""

    def __init__(self, kb: KnowledgeBase, retriever: Retriever, settings: Settings,
                 model: AnswerabilityModel | None = None, mode: str = "bm25",
                 concerns: ConcernDetector | None = None):
        self.kb, self.retriever, self.settings, self.mode = kb, retriever, settings, mode
        self.concerns = concerns or ConcernDetector(kb.concerns)
        self.model = model or AnswerabilityModel.default(mode)
        self.threshold = (settings.answer_threshold if settings.answer_threshold is not None
                          else self.model.threshold)

    def with_concerns(self, concerns: ConcernDetector) -> "PolicyBot":
        """The same bot with another concern detector (evaluation: another fold's thresholds)."""
        return PolicyBot(self.kb, self.retriever, self.settings, self.model, self.mode, concerns)

    def with_model(self, model: AnswerabilityModel) -> "PolicyBot":
        """The same bot with another answerability model (evaluation: another fold's fit)."""
        return PolicyBot(self.kb, self.retriever, self.settings, model, self.mode, self.concerns)

    def answer(self, school: str, question: str) -> Answer:
        """Raises UnknownSchool for a school not in the knowledge base and QuestionError for bad input."""
        return self.decide(school, question)[0]

    def decide(self, school: str, question: str) -> tuple[Answer, SearchResult | None]:
        """The answer and the search behind it (None when the question never reached retrieval:
        a live concern), so evaluation measures the ranking without searching again."""
        record = self.kb.school(school)
        text = clean_question(question, self.settings.max_question_chars)
        concern = self.concerns.detect(text)
        if concern:
            return self.urgent(record, concern), None
        return self.decide_from_policy(record, text)

    def urgent(self, record: School, concern: Concern) -> Answer:
        """Never answered from policy: the reply is the category's advice (both categories'
        when the detector cannot tell two apart), and the question goes to lead and deputy."""
        bank = self.kb.concerns
        category = bank.category(concern.category)
        title = category.title if category else concern.category.replace("-", " ")
        advice = [a for slug in (concern.category, *concern.also) if bank.category(slug)
                  for a in bank.category(slug).advice]
        answer = self._build(record, URGENT, 1.0, LIVE_CONCERN, ())
        return replace(answer, concern=title[:1].lower() + title[1:], concern_category=concern.category,
                       advice=tuple(dict.fromkeys(advice)))

    def decide_from_policy(self, record: School, text: str) -> tuple[Answer, SearchResult | None]:
        """The answer from the school's policy alone, as if no concern had been found
        (evaluation uses it to re-decide concerns at other thresholds without searching again).
        The search result comes back re-ranked by the answerability model."""
        result = self.retriever.search(record.slug, text, k=max(10, self.settings.max_citations))
        return self.decide_from_search(record, text, result)

    def decide_from_search(self, record: School, text: str, result: SearchResult,
                           model: AnswerabilityModel | None = None) -> tuple[Answer, SearchResult]:
        """The decision on one search (evaluation re-decides stored searches with each fold's model)."""
        model = model or self.model
        threshold = self.threshold if model is self.model else model.threshold
        judgement = model.judge(result)
        result = replace(result, hits=self._reranked(judgement))
        citations = self._citations(record, judgement)
        confidence = judgement.confidence
        if not citations:
            decision, confidence, reason = ESCALATE, 0.0, NO_MATCH if in_scope(text) else OUT_OF_SCOPE
        elif confidence >= threshold:
            decision, reason = ANSWER, AMBIGUOUS if self._ambiguous(citations) else CONFIDENT
        else:
            # Too weak to answer. A question with nothing of the policies' subject in it is not the
            # DSL's to receive unasked; the word list only names the reason, it never stops an answer.
            decision, reason = ESCALATE, LOW_CONFIDENCE if in_scope(text) else OUT_OF_SCOPE
            if reason == OUT_OF_SCOPE:
                citations = ()  # clauses about something else would only mislead
        answer = self._build(record, decision, confidence, reason, citations, features=judgement.features)
        if decision == ANSWER:
            answer = replace(answer, headline=headline(citations))
        return answer, result

    @staticmethod
    def _reranked(judgement: Judgement) -> tuple[Hit, ...]:
        """The candidates' hits in the model's order, strength relative to the best one's probability."""
        if not judgement.ranked:
            return ()
        top = max(judgement.ranked[0][1], 1e-9)
        return tuple(replace(c.hit, strength=p / top) for c, p in judgement.ranked)

    @staticmethod
    def _ambiguous(citations: tuple[Citation, ...]) -> bool:
        """Two or more clauses close to the best one that cover different situations (another
        section, or another stance): the question could mean either, so the answer shows each
        with the situation it covers instead of presenting one as the answer."""
        close = [c for c in citations if c.strength >= AMBIGUITY_STRENGTH]
        return len(close) > 1 and len({(c.section, c.stance) for c in close}) > 1

    def _citations(self, school: School, judgement: Judgement) -> tuple[Citation, ...]:
        """Up to max_citations clauses, most likely to answer first, dropping those far weaker
        than the best one, and a third far weaker than the second."""
        if not judgement.ranked:
            return ()
        top = max(judgement.ranked[0][1], 1e-9)
        kept: list[tuple[Candidate, float]] = []
        for candidate, p in judgement.ranked[: self.settings.max_citations]:
            if kept and p / top < self.settings.citation_floor:
                break
            if len(kept) == 2 and p < THIRD_CLAUSE_RATIO * kept[1][1]:
                break
            kept.append((candidate, p))
        out = []
        for candidate, p in kept:
            c: Clause = candidate.hit.clause
            policy = school.policy(c.policy_id)
            out.append(Citation(c.id, c.section, policy.title, policy.id, c.text, c.school, c.stance,
                                c.lead_in, round(p, 4), c.about[0] if c.about else c.section,
                                round(p / top, 3)))
        return tuple(out)

    def _build(self, school: School, decision: str, confidence: float, reason: str,
               citations: tuple[Citation, ...], features: dict | None = None) -> Answer:
        today = self.settings.current_date()
        cited = {c.policy_id for c in citations}
        warnings = tuple(ReviewWarning(p.title, p.next_review, p.next_review_by)
                         for p in school.policies if p.id in cited and p.overdue(today))
        return Answer(school=school.slug, school_name=school.name, decision=decision,
                      confidence=round(min(1.0, max(0.0, confidence)), 3),
                      reason=reason, citations=citations, lead=school.lead, deputy=school.deputy,
                      review_warnings=warnings, features=features or {})
