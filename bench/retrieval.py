"""Our BM25 (bot/retrieval/bm25.py) against rank-bm25 and bm25s, on synthetic clause corpora.

    .venv/bin/pip install -e '.[dev,bench]'      # bm25s
    .venv/bin/python bench/retrieval.py [--sizes 1000,10000,100000] [--queries 200]

For each corpus size, the same pre-tokenised clauses (Zipf-distributed vocabulary, 12-60
tokens each, as `analyse` leaves a clause) are indexed by
  ours       bot.retrieval.bm25.BM25Okapi: postings lists, numpy per query term
  rank-bm25  rank_bm25.BM25Okapi, the reference it reproduces (scores a test checks exactly)
  bm25s      bm25s.BM25(method="robertson"), the variant that follows rank-bm25's formula
and answers the same queries (2-6 distinct terms taken from one clause, as a question shares
words with the clause it is about). Build: seconds to index. Query: one query's top 5, p50 /
p99 in ms, each library's own way (ours and rank-bm25: every score then the top 5; bm25s:
retrieve(k=5)). Top-5: the share of queries whose top 5 carry exactly rank-bm25's top-5
scores in order (ties at equal score are interchangeable). bm25s clamps a negative idf (a term
in over half the clauses) to 0 where rank-bm25 floors it at 0.25 x the mean idf, so it differs
on queries with such common words (with rank-bm25's epsilon set to 0 the two agree on every
query here: checked when this bench was written).

Ratios are against rank-bm25 in the same run. Results go to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from results_file import machine_line, percentile, write_section  # noqa: E402

K = 5
VOCAB = 20_000


def corpus_of(n: int, seed: int = 18) -> list[list[str]]:
    """n clauses of stemmed-looking tokens; word frequencies follow Zipf's law, as text does."""
    rng = np.random.default_rng(seed)
    syllables = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "qui", "ro", "su",
                 "ta", "ve", "wi", "xo", "yu", "za"]
    words, seen = [], set()
    wrng = random.Random(seed)
    while len(words) < VOCAB:
        w = "".join(wrng.choice(syllables) for _ in range(wrng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
    p = 1.0 / ranks ** 1.07
    p /= p.sum()
    lengths = rng.integers(12, 61, size=n)
    draws = rng.choice(VOCAB, size=int(lengths.sum()), p=p)
    out, at = [], 0
    for length in lengths:
        out.append([words[i] for i in draws[at:at + length]])
        at += length
    return out


def queries_of(corpus: list[list[str]], n: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        doc = list(dict.fromkeys(rng.choice(corpus)))
        if len(doc) >= 2:
            out.append(rng.sample(doc, rng.randint(2, min(6, len(doc)))))
    return out


def top(scores: np.ndarray, k: int = K) -> np.ndarray:
    """The k best document ids, best first (what every engine here is asked for)."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def agrees(ids, reference_scores: np.ndarray, reference_top: np.ndarray) -> bool:
    got = reference_scores[np.asarray(ids, dtype=np.int64)]
    return bool(np.allclose(got, reference_scores[reference_top], rtol=1e-9, atol=1e-9))


def timed(fn, *args) -> tuple[object, float]:
    t = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t


def run_size(n: int, n_queries: int) -> dict:
    from rank_bm25 import BM25Okapi as RankBM25

    from bot.retrieval.bm25 import BM25Okapi as Ours

    corpus = corpus_of(n)
    queries = queries_of(corpus, n_queries)
    out: dict = {"clauses": n, "tokens": sum(map(len, corpus)), "queries": len(queries)}
    gc.collect()
    ours, out["ours_build"] = timed(Ours, corpus)
    rank, out["rank_build"] = timed(RankBM25, corpus)
    try:
        import bm25s
    except ImportError:
        bm25s = None
    if bm25s is not None:
        def build_bm25s():
            retriever = bm25s.BM25(method="robertson", k1=1.5, b=0.75)
            retriever.index(corpus, show_progress=False)
            return retriever
        s_index, out["bm25s_build"] = timed(build_bm25s)
        out["bm25s_version"] = bm25s.__version__
    times = {"ours": [], "rank": [], "bm25s": []}
    agree = {"ours": 0, "bm25s": 0}
    for q in queries[:5]:  # warm-up (first-call allocations), not counted
        rank.get_scores(q), ours.get_scores(q)
        if bm25s is not None:
            s_index.retrieve([q], k=K, show_progress=False, n_threads=0)
    gc.collect()
    gc.disable()  # a collection pausing one engine's query would be charged to that engine alone
    for q in queries:  # interleaved, so every engine sees the same machine load
        t = time.perf_counter()
        ref_scores = rank.get_scores(q)
        ref_top = np.argsort(ref_scores)[::-1][:K]  # as rank_bm25's get_top_n does
        times["rank"].append(time.perf_counter() - t)
        t = time.perf_counter()
        mine = top(ours.get_scores(q))
        times["ours"].append(time.perf_counter() - t)
        agree["ours"] += agrees(mine, ref_scores, ref_top)
        if bm25s is not None:
            t = time.perf_counter()
            docs, _ = s_index.retrieve([q], k=K, show_progress=False, n_threads=0)
            times["bm25s"].append(time.perf_counter() - t)
            agree["bm25s"] += agrees(docs[0], ref_scores, ref_top)
    gc.enable()
    for name, values in times.items():
        if values:
            ms = [v * 1000 for v in values]
            out[f"{name}_p50"], out[f"{name}_p99"] = percentile(ms, 50), percentile(ms, 99)
    out["ours_agree"] = agree["ours"] / len(queries)
    out["bm25s_agree"] = agree["bm25s"] / len(queries) if bm25s is not None else None
    return out


def report(rows: list[dict], n_queries: int) -> str:
    versions = []
    try:
        import importlib.metadata as md
        versions.append(f"rank-bm25 {md.version('rank-bm25')}")
        versions.append(f"bm25s {md.version('bm25s')}")
    except Exception:  # noqa: BLE001 - bm25s may be absent
        pass
    lines = ["## BM25: ours vs rank-bm25 vs bm25s (`bench/retrieval.py`)", "", machine_line() + ".", "",
             f"{', '.join(versions)}; {n_queries} queries per size, 2-6 distinct terms each, top {K}; synthetic "
             "clauses of 12-60 tokens over a Zipf vocabulary of 20,000 words.", "",
             "| clauses | engine | build s | query p50 ms | query p99 ms | p50 vs rank-bm25 | top-5 = rank-bm25 |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        for name, label in (("rank", "rank-bm25"), ("ours", "ours"), ("bm25s", "bm25s robertson")):
            if f"{name}_p50" not in r:
                continue
            speed = r["rank_p50"] / max(r[f"{name}_p50"], 1e-9)
            agree = "reference" if name == "rank" else f"{100 * r[f'{name}_agree']:.1f}%"
            lines.append(f"| {r['clauses']:,} | {label} | {r[f'{name}_build']:.3f} | {r[f'{name}_p50']:.3f} "
                         f"| {r[f'{name}_p99']:.3f} | {speed:.1f}x | {agree} |")
    last = rows[-1]
    lines.append("")
    lines.append(f"At {last['clauses']:,} clauses: ours is {last['rank_p50'] / last['ours_p50']:.0f}x rank-bm25 "
                 f"at the median query (target >= 50x at 100,000)"
                 + (f", and {last['bm25s_p50'] / last['ours_p50']:.2f}x bm25s's speed "
                    f"(target >= 1.0x: no slower than bm25s)." if "bm25s_p50" in last else "; bm25s not installed."))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated clause counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n:,} clauses ...", flush=True)
        rows.append(run_size(n, args.queries))
        print(rows[-1], flush=True)
    text = report(rows, args.queries)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section('bench/retrieval.py', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
