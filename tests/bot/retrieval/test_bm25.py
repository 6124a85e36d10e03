"""The postings-list BM25 must give rank-bm25's BM25Okapi scores on the same tokens."""
from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi as Reference

from bot.retrieval.bm25 import BM25Okapi
from bot.retrieval.lexical import _Analysed
from bot.retrieval.text import analyse


def test_same_scores_as_rank_bm25_on_the_bundled_clauses(bundled_bot):
    questions = ["can I friend an ex-pupil who is 18", "post photos of pupils on my instagram",
                 "personal use of social media at work during lunch", "disciplinary action gross misconduct",
                 "school email address for personal accounts", "zzz unknown words only"]
    analysed = _Analysed()
    for school in bundled_bot.kb.schools.values():
        corpus = [analysed.document(c) for c in school.clauses]
        ours, ref = BM25Okapi(corpus), Reference(corpus)
        for q in questions:
            tokens = analyse(q)
            np.testing.assert_allclose(ours.get_scores(tokens), ref.get_scores(tokens), rtol=1e-12, atol=1e-12)


def test_a_clause_analysed_part_by_part_is_the_clause_analysed_whole(bundled_bot):
    """The index analyses each part of a clause once (and each distinct text once across
    schools); the tokens must be those of the clause's parts analysed as one text."""
    analysed = _Analysed()
    for school in bundled_bot.kb.schools.values():
        for c in school.clauses:
            whole = analyse(" ".join(p for p in (c.text, c.section, c.lead_in, *c.about) if p))
            assert analysed.document(c) == whole, c.id


@pytest.mark.parametrize("seed", range(5))
def test_same_scores_on_random_corpora_with_repeated_and_common_terms(seed):
    rng = random.Random(seed)
    vocab = [f"t{i}" for i in range(30)]
    corpus = [[rng.choice(vocab[: rng.randint(2, 30)]) for _ in range(rng.randint(1, 25))] for _ in range(rng.randint(2, 80))]
    ours, ref = BM25Okapi(corpus), Reference(corpus)
    assert ours.idf == pytest.approx(ref.idf)
    for _ in range(20):
        query = [rng.choice(vocab + ["absent"]) for _ in range(rng.randint(1, 6))]
        np.testing.assert_allclose(ours.get_scores(query), ref.get_scores(query), rtol=1e-12, atol=1e-12)


def test_weights_scale_each_terms_contribution():
    corpus = [["a", "b"], ["b", "c", "c"], ["d"]]
    index = BM25Okapi(corpus)
    whole = index.get_scores({"b": 1.0, "c": 1.0})
    half_c = index.get_scores({"b": 1.0, "c": 0.5})
    only_c = index.get_scores(["c"])
    np.testing.assert_allclose(whole - half_c, 0.5 * only_c)


def test_empty_corpus_is_refused():
    with pytest.raises(ValueError):
        BM25Okapi([])


@pytest.mark.parametrize("seed", range(3))
def test_doc_terms_are_each_documents_distinct_terms(seed):
    rng = random.Random(seed)
    vocab = [f"t{i}" for i in range(40)]
    corpus = [[rng.choice(vocab) for _ in range(rng.randint(0, 30))] for _ in range(rng.randint(1, 60))]
    if not any(corpus):
        corpus[0] = ["t1"]
    index = BM25Okapi(corpus)
    assert [index.doc_terms(i) for i in range(len(corpus))] == [frozenset(d) for d in corpus]
