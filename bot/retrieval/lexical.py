"""Per-school clause search: school + question -> scored clauses.

Each school gets its own index, so a question can only ever be matched against the
asking school's clauses. A clause is indexed with its text, section heading, lead-in and
the author's `about` phrasings; questions are expanded with the staff-vocabulary synonym
groups. The Retriever protocol is the seam where a second (semantic) stage plugs in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .bm25 import BM25Okapi
from ..knowledge.load import Clause, KnowledgeBase, SynonymGroup
from .evidence import (TOP_CANDIDATES, QuestionShape, SentenceLexical, candidate_order, lexical_evidence,
                       semantic_evidence)
from .sentences import sentence_spans
from .text import STOPWORDS, analyse, stem, words

if TYPE_CHECKING:
    from .semantic import SemanticScores

# A synonym's policy words count for less than the staff member's own words: they say
# what the question may mean, not what it says.
EXPANSION_WEIGHT = 0.6


@dataclass(frozen=True)
class Query:
    """An analysed question: the staff's own stems, and what each synonym group added."""

    own: tuple[str, ...]
    # own stem -> the policy phrases (stem tuples) it expands to; a phrase counts as found
    # in a clause only when all its words are there ("year group" is not "Facebook group").
    expansions: dict[str, tuple[tuple[str, ...], ...]]
    weights: dict[str, float]

    @property
    def empty(self) -> bool:
        return not self.weights


@dataclass(frozen=True)
class Hit:
    clause: Clause
    score: float
    matched: frozenset[str]  # the question's own stems this clause answers (directly or via a synonym)
    # Relevance relative to the best hit (1.0 for it): decides which clauses are worth quoting.
    strength: float = 1.0


@dataclass(frozen=True)
class Candidate:
    """A clause the answerability model judges, with the search's evidence about it
    (names in retrieval/evidence.py)."""

    hit: Hit
    evidence: dict[str, float]


@dataclass(frozen=True)
class SearchResult:
    school: str
    query: Query
    hits: tuple[Hit, ...]
    coverage: float  # share of the question's information (idf) the top clause matches
    candidates: tuple[Candidate, ...] = ()  # the clauses worth judging, best-ranked first
    mode: str = "bm25"  # which evidence the candidates carry: "bm25" or "fused"


class Retriever(Protocol):
    def search(self, school: str, question: str, k: int = 10) -> SearchResult: ...


class _CompiledSynonyms:
    """Synonym groups as stemmed word sequences, matched against the question's stemmed words."""

    def __init__(self, groups: tuple[SynonymGroup, ...]):
        self.rules: list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = []
        for group in groups:
            targets = tuple(dict.fromkeys(tuple(analyse(phrase)) for phrase in group.policy if analyse(phrase)))
            for phrase in group.staff:
                seq = tuple(stem(w) for w in words(phrase))
                if seq and targets:
                    self.rules.append((seq, targets))
        self.rules.sort(key=lambda r: -len(r[0]))

    def expand(self, stems: list[str]) -> list[tuple[tuple[int, ...], tuple[tuple[str, ...], ...]]]:
        """(positions matched, policy phrases) for every staff phrase found in the question."""
        found = []
        n = len(stems)
        for seq, targets in self.rules:
            m = len(seq)
            for i in range(n - m + 1):
                if tuple(stems[i:i + m]) == seq:
                    found.append((tuple(range(i, i + m)), targets))
        return found


@lru_cache(maxsize=64)
def compiled_synonyms(groups: tuple[SynonymGroup, ...]) -> _CompiledSynonyms:
    """One compiled copy per distinct set of groups: schools that add no synonyms of their own
    share the deployment's (at 500 schools, one copy of ~1,600 rules instead of 500)."""
    return _CompiledSynonyms(groups)


def analyse_query(question: str, synonyms: _CompiledSynonyms) -> Query:
    tokens = words(question)
    all_stems = [stem(w) for w in tokens]
    content = [i for i, w in enumerate(tokens) if w not in STOPWORDS]
    own = tuple(dict.fromkeys(all_stems[i] for i in content))
    weights: dict[str, float] = {t: 1.0 for t in own}
    expansions: dict[str, list[tuple[str, ...]]] = {}
    for positions, targets in synonyms.expand(all_stems):
        anchors = [all_stems[i] for i in positions if i in content] or [all_stems[positions[0]]]
        for anchor in anchors:
            expansions.setdefault(anchor, [])
        for phrase in targets:
            for token in phrase:
                weights.setdefault(token, EXPANSION_WEIGHT)
            for anchor in anchors:
                if phrase != (anchor,) and phrase not in expansions[anchor]:
                    expansions[anchor].append(phrase)
    return Query(own=own, expansions={k: tuple(v) for k, v in expansions.items()}, weights=weights)


class _Analysed:
    """Each distinct text analysed once per build, shared by every school's index: a trust's
    schools often share a policy or its about phrasings word for word, and analysis was most
    of the lexical stage's start-up at hundreds of schools."""

    def __init__(self):
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._sets: dict[str, frozenset[str]] = {}

    def tokens(self, text: str) -> tuple[str, ...]:
        got = self._tokens.get(text)
        if got is None:
            got = self._tokens[text] = tuple(analyse(text))
        return got

    def token_set(self, text: str) -> frozenset[str]:
        got = self._sets.get(text)
        if got is None:
            got = self._sets[text] = frozenset(self.tokens(text))
        return got

    def document(self, clause: Clause) -> list[str]:
        """The clause's index tokens: its text, section, lead-in and about phrasings. Parts are
        analysed one by one (tokens never span two parts, so this equals analysing them joined)."""
        doc: list[str] = []
        for part in (clause.text, clause.section, clause.lead_in, *clause.about):
            if part:
                doc.extend(self.tokens(part))
        return doc


class _SchoolIndex:
    def __init__(self, clauses: tuple[Clause, ...], synonyms: tuple[SynonymGroup, ...],
                 analysed: _Analysed | None = None):
        analysed = analysed or _Analysed()
        self.clauses = clauses
        docs = [analysed.document(c) for c in clauses]
        self.phrases = [[analysed.token_set(p) for p in c.about] for c in clauses]
        self.bm25 = BM25Okapi(docs)
        self.synonyms = compiled_synonyms(synonyms)

    def score(self, question: str) -> tuple[Query, np.ndarray]:
        """The analysed question and every clause's BM25 score for it."""
        query = analyse_query(question, self.synonyms)
        scores = self.bm25.get_scores(query.weights) if not query.empty else np.zeros(len(self.clauses))
        return query, scores

    def idf(self, term: str) -> float:
        return self.bm25.idf.get(term, self.bm25.unseen_idf)

    def matched(self, doc_id: int, query: Query) -> frozenset[str]:
        doc = self.bm25.doc_terms(doc_id)
        return frozenset(t for t in query.own if self.credit(t, query, doc) > 0)

    def credit(self, term: str, query: Query, present: frozenset[str] | set[str]) -> float:
        """The information (idf) a question word contributes when `present` are the words found:
        all of it when the word itself is there; through a synonym, no more than the synonym
        itself carries, so "christmas fair" -> "school" earns next to nothing."""
        idf = self.idf(term)
        if term in present:
            return idf
        via = [sum(self.idf(e) for e in phrase) for phrase in query.expansions.get(term, ())
               if all(e in present for e in phrase)]
        return min(idf, max(via)) if via else 0.0

    def coverage(self, doc_id: int, query: Query) -> float:
        total = sum(self.idf(t) for t in query.own)
        if total <= 1e-9:  # a one-clause corpus gives every word ~zero information
            return 0.0
        doc = self.bm25.doc_terms(doc_id)
        return min(1.0, max(0.0, sum(self.credit(t, query, doc) for t in query.own) / total))

    def phrase_match(self, doc_id: int, query: Query) -> float:
        """How closely the question says what one of the clause's `about` phrasings says:
        the idf-weighted F1 of phrase words found in the question and question words found
        in the phrase (directly or via a synonym), best phrasing wins. A short phrasing
        buried in a long question about something else scores low on the second half."""
        total_q = sum(self.idf(t) for t in query.own)
        if total_q <= 1e-9:
            return 0.0
        offered = set(query.own) | {e for o in query.own for p in query.expansions.get(o, ()) for e in p}
        best = 0.0
        for phrase in self.phrases[doc_id]:
            total_p = sum(self.idf(t) for t in phrase)
            if total_p <= 1e-9:
                continue
            said = phrase & offered
            recall = sum(self.idf(t) for t in said) / total_p
            precision = sum(self.credit(t, query, phrase) for t in query.own) / total_q
            if recall + precision > 0:
                best = max(best, 2 * recall * precision / (recall + precision))
        return best

    def sentence_lexical(self, question: str, spans: list[tuple[int, int]], query: Query,
                         scores: np.ndarray) -> SentenceLexical:
        """Each sentence's own BM25 ranking (as shares of its best score) and the coverage of its
        words by its best clauses; a one-sentence question is its own single sentence."""
        n = len(self.clauses)
        pieces = [(query, scores)] if len(spans) < 2 else [self.score(question[a:b]) for a, b in spans]
        shares, coverage = np.zeros((n, len(pieces))), np.zeros((n, len(pieces)))
        for j, (q, s) in enumerate(pieces):
            top = float(s.max()) if n else 0.0
            if top <= 0:
                continue
            shares[:, j] = s / top
            for i in np.argsort(-s, kind="stable")[:TOP_CANDIDATES]:
                if s[i] > 0:
                    coverage[i, j] = self.coverage(int(i), q)
        return SentenceLexical(shares, coverage)

    def ceiling(self, query: Query) -> float:
        """The score a perfect clause would get: every term, at the most a term can add."""
        k1 = self.bm25.k1
        return sum(w * self.bm25.idf.get(t, 0.0) * (k1 + 1.0) for t, w in query.weights.items())


class BM25Retriever:
    """The first stage: Snowball-stemmed BM25 per school with synonym expansion."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        analysed = _Analysed()
        self._indexes = {slug: _SchoolIndex(school.clauses, kb.synonyms_for(slug), analysed)
                         for slug, school in kb.schools.items()}

    def index(self, school: str) -> _SchoolIndex:
        if school not in self._indexes:
            self.kb.school(school)  # raises UnknownSchool with the list of known ones
        return self._indexes[school]

    def search(self, school: str, question: str, k: int = 10) -> SearchResult:
        index = self.index(school)
        query, scores = index.score(question)
        return self.evidence(school, question, query, scores, scores, k)

    def evidence(self, school: str, question: str, query: Query, bm25: np.ndarray, ranking: np.ndarray,
                 k: int = 10, semantic: "SemanticScores | None" = None,
                 strength: np.ndarray | None = None) -> SearchResult:
        """The search result for a ranking (BM25's own, or a fused one): the top k hits, and
        the candidates with the evidence about each (the semantic numbers too when given)."""
        index = self._indexes[school]
        order = [int(i) for i in np.argsort(-ranking, kind="stable")[:k]]
        if strength is None:
            top_score = float(bm25.max()) if len(bm25) else 0.0
            strength = bm25 / top_score if top_score > 0 else np.zeros_like(bm25)
        top_strength = float(strength[order[0]]) if order and strength[order[0]] > 0 else 1.0

        def hit(i: int) -> Hit:
            return Hit(index.clauses[i], float(ranking[i]), index.matched(i, query), float(strength[i]) / top_strength)

        hits = tuple(hit(i) for i in order if semantic is not None or bm25[i] > 0)
        if not hits:
            return SearchResult(school, query, (), 0.0)
        spans = sentence_spans(question)
        sentences = index.sentence_lexical(question, spans, query, bm25)
        words_in = len(question.split())
        shape = QuestionShape(len(query.own), words_in, max(1, len(spans)))
        by_sentence = (semantic.sentences.max(axis=1) if semantic is not None
                       else sentences.bm_share.max(axis=1))
        candidates = candidate_order(ranking, by_sentence)
        coverage = np.zeros(len(index.clauses))
        for i in set(candidates) | {int(np.argmax(bm25))}:
            coverage[i] = index.coverage(i, query) if bm25[i] > 0 else 0.0
        ceiling = index.ceiling(query)
        sections = [c.section for c in index.clauses]
        lengths = [len(c.text.split()) for c in index.clauses]
        top5 = candidates[:5]
        judged = []
        for rank, i in enumerate(candidates):
            evidence = lexical_evidence(i, rank, bm25, ceiling, coverage, index.phrase_match(i, query), sentences,
                                        sections, lengths, top5, shape)
            if semantic is not None:
                evidence.update(semantic_evidence(i, semantic.passage, semantic.about, semantic.clauses,
                                                  semantic.sentences))
            judged.append(Candidate(hit(i), evidence))
        top = order[0]
        return SearchResult(school, query, hits, float(coverage[top]) if bm25[top] > 0 else 0.0, tuple(judged),
                            "fused" if semantic is not None else "bm25")
