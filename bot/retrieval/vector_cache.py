"""Clause vectors on disk, keyed by model version and text, so a restart does not re-encode.

One .npz file per model version holds (text digest, vector) pairs. Editing a clause
changes its digest, so only that clause is encoded again; a new model or graph version
starts a new file. A damaged file is ignored (and rewritten), never trusted.
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


class VectorCache:
    def __init__(self, directory: Path, model_version: str):
        self.path = directory / "vectors" / f"{model_version}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        self._encoded = 0
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if len(keys) != len(vectors):
                raise ValueError("keys and vectors differ in length")
            self._vectors = {str(k): v for k, v in zip(keys, vectors)}
        except Exception as exc:  # noqa: BLE001 - a bad cache is rebuilt, not fatal
            log.warning("vector cache %s unreadable (%s); rebuilding it", self.path, exc)
            self._vectors = {}

    def _write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Per process and thread: a reload and a draft tried in the authoring view may both
            # write new vectors at once.
            tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
            keys = np.array(list(self._vectors), dtype="U32")
            np.savez(tmp, keys=keys, vectors=np.stack(list(self._vectors.values())).astype(np.float32))
            tmp.replace(self.path)
        except OSError as exc:
            # A read-only cache costs start-up time, not correctness.
            log.warning("cannot write vector cache %s: %s", self.path, exc)

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
