"""Clause vectors on disk, keyed by model version and text, so a restart does not re-encode.

One .npz file per model version holds (text digest, vector) pairs. Editing a clause
changes its digest, so only that clause is encoded again; a new model or graph version
starts a new file. A damaged file is ignored (and rewritten), never trusted.

A *seed* is a read-only file of the same form shipped with data that rarely changes (the
live-concern bank): a first start on a new machine reads its vectors instead of encoding
them. It is looked up by the same model version, so a different model or variant never
uses it, and a text edited since it was written is simply encoded.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _load(path: Path, what: str) -> dict[str, np.ndarray]:
    """(digest -> vector) from a file of ours; {} with one warning when it is damaged."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
        if len(keys) != len(vectors):
            raise ValueError("keys and vectors differ in length")
        return {str(k): v for k, v in zip(keys, vectors)}
    except Exception as exc:  # noqa: BLE001 - a bad file is ignored, never trusted or fatal
        log.warning("%s %s unreadable (%s); ignoring it", what, path, exc)
        return {}


def _save(path: Path, vectors: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: a reload and a draft tried in the authoring view may both
    # write new vectors at once.
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
    keys = np.array(list(vectors), dtype="U32")
    np.savez(tmp, keys=keys, vectors=np.stack(list(vectors.values())).astype(np.float32))
    tmp.replace(path)


class VectorCache:
    def __init__(self, directory: Path, model_version: str, seed: Path | None = None):
        self.path = directory / "vectors" / f"{model_version}.npz"
        self._vectors: dict[str, np.ndarray] = _load(seed, "vector seed") if seed is not None else {}
        self._vectors.update(_load(self.path, "vector cache"))
        self._encoded = 0

    def _write(self) -> None:
        try:
            _save(self.path, self._vectors)
        except OSError as exc:
            # A read-only cache costs start-up time, not correctness.
            log.warning("cannot write vector cache %s: %s", self.path, exc)

    def write_seed(self, path: Path, texts: list[str]) -> None:
        """Write the vectors of `texts` (already in this cache) as a seed file."""
        _save(path, {k: self._vectors[k] for k in dict.fromkeys(text_key(t) for t in texts)})

    def table(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
        """Each distinct text's vector once, the row of each of `texts` in it, and how many had
        to be encoded. Schools of one trust often share a policy word for word, so a text
        that stands for clauses in many schools is held in memory once."""
        keys = [text_key(t) for t in texts]
        self._fill(keys, texts, encode)
        rows: dict[str, int] = {}
        index = np.fromiter((rows.setdefault(k, len(rows)) for k in keys), dtype=np.int32, count=len(keys))
        matrix = np.stack([self._vectors[k] for k in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
        return matrix, index, self._encoded

    def _fill(self, keys: list[str], texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> None:
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        self._encoded = len(missing)
        if missing:
            by_key = dict(zip(keys, texts))
            for key, vector in zip(missing, encode([by_key[k] for k in missing])):
                self._vectors[key] = vector
            self._write()

    def vectors(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """The vectors for `texts` (in order) and how many had to be encoded."""
        keys = [text_key(t) for t in texts]
        self._fill(keys, texts, encode)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32), 0
        return np.stack([self._vectors[k] for k in keys]), self._encoded
