"""Parsed knowledge files kept on disk, keyed by the file's bytes, so a restart does not re-parse.

At hundreds of schools most of a warm start was YAML: building Python objects node by node is
slow even on libyaml's C parser. A file whose bytes are unchanged parses to the same tree, so
that tree (with the line numbers the loader reports problems by) is stored as JSON under the
digest of the bytes; json's C decoder rebuilds it several times faster than YAML. An edited file
has a new digest and is parsed afresh; a damaged entry is ignored and rewritten, never trusted.
JSON, not pickle, so a cache directory others can write to cannot run code in the server.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .yamlio import LineList, LineMap

log = logging.getLogger(__name__)

# Bump when the tree's shape changes (what yamlio builds), so old entries are never read.
FORMAT = b"policybot-parsed-yaml-1\n"
# Entries not read for this long are removed when a process first uses the cache.
KEEP_DAYS = 30


class ParsedCache:
    def __init__(self, directory: Path):
        self.directory = Path(directory) / "parsed"
        self._pruned = self._warned = False
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._writes: list[Future] = []

    def _path(self, data: bytes) -> Path:
        return self.directory / f"{hashlib.sha256(FORMAT + data).hexdigest()[:40]}.json"

    def get(self, data: bytes) -> Any | None:
        """The tree parsed from these bytes before, or None (never seen, or the entry is bad)."""
        path = self._path(data)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            value = json.loads(raw, object_hook=_decode)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("parsed-file cache entry %s unreadable (%s); parsing again", path.name, exc)
            return None
        try:
            os.utime(path)  # read now: kept by the pruning below
        except OSError:
            pass
        return value

    def put(self, data: bytes, value: Any) -> None:
        """Store the tree parsed from `data`. The file is written on a background thread (the
        open and write wait on the disk, not the interpreter, so parsing the next file goes on
        meanwhile); close() waits for every write."""
        path = self._path(data)
        try:
            text = json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return  # a value JSON cannot hold (a YAML set or binary): parsed each time instead
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parsed-cache")
            self._writes.append(self._writer.submit(self._write, path, text))

    def close(self) -> None:
        """Wait for the writes put() started."""
        with self._lock:
            writer, writes, self._writer, self._writes = self._writer, self._writes, None, []
        for write in writes:
            if (exc := write.exception()) is not None:  # a cache that cannot be written costs time only
                log.warning("parsed-file cache: a write failed (%s: %s)", type(exc).__name__, exc)
        if writer is not None:
            writer.shutdown()

    def _write(self, path: Path, text: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._prune()
            tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            # A read-only cache costs start-up time, not correctness; said once, not per file.
            if not self._warned:
                self._warned = True
                log.warning("cannot write the parsed-file cache in %s: %s (files are parsed at each start)",
                            self.directory, exc)

    def _prune(self) -> None:
        with self._lock:
            if self._pruned:
                return
            self._pruned = True
        cutoff = time.time() - KEEP_DAYS * 86400
        for entry in self.directory.glob("*.json"):
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
            except OSError:
                pass


def _encode(value: Any) -> Any:
    """LineMap -> {"m": line, "p": [[key, value, key line], ...]} (pairs keep non-string keys,
    such as a clause id written as 1.1); LineList -> {"l": line, "v": [...]}."""
    if isinstance(value, LineMap):
        return {"m": value.line, "p": [[k, _encode(v), value.key_lines.get(k, value.line)] for k, v in value.items()]}
    if isinstance(value, LineList):
        return {"l": value.line, "v": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"m": 0, "p": [[k, _encode(v), 0] for k, v in value.items()]}
    if isinstance(value, list):
        return {"l": 0, "v": [_encode(v) for v in value]}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if "m" in obj:
        result = LineMap()
        result.line = obj["m"]
        result.key_lines = {}
        for key, value, line in obj["p"]:
            result[key] = value
            result.key_lines[key] = line
        return result
    result = LineList(obj["v"])
    result.line = obj["l"]
    return result


# Below this many files a second process costs more than it saves.
PREFETCH_MIN_FILES = 64


class Prefetch:
    """While the loader parses a knowledge base's files from the first, a second process parses
    them from the last into the cache, until it reaches one the loader has done; the loader then
    reads those from the cache. A first `kb check` of 500 schools' files went from 5.0 s to 3.9 s
    on 2 cores. The loader never waits for it or depends on it: a file the helper has not
    stored yet is simply parsed by the loader.

    Only when this process has no other thread: the helper is forked (it needs nothing
    re-imported), and forking a threaded process can copy a lock another thread holds. A server
    reloading while it answers therefore loads on one core, as it did before."""

    def __init__(self, cache: ParsedCache, paths: list[Path], min_files: int = PREFETCH_MIN_FILES):
        self._process = self._stop = None
        if len(paths) < min_files or not hasattr(os, "fork") or threading.active_count() > 1:
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._stop = ctx.Event()
        self._process = ctx.Process(target=_prefetch, args=(cache.directory.parent, paths[::-1], self._stop),
                                    name="policybot-prefetch", daemon=True)
        self._process.start()

    @property
    def started(self) -> bool:
        return self._process is not None

    def close(self) -> None:
        """Stop the helper (it finishes the file in hand) and wait for it."""
        if self._process is not None:
            self._stop.set()
            self._process.join()
            self._process = None


def _prefetch(cache_dir: Path, paths: list[Path], stop) -> None:
    from .yamlio import YamlError, load_yaml

    cache = ParsedCache(cache_dir)
    cache._pruned = True  # the loader's process prunes
    try:
        for path in paths:
            if stop.is_set():
                break
            try:
                if cache._path(path.read_bytes()).exists():
                    break  # met the loader coming the other way
                load_yaml(path, cache)
            except (OSError, YamlError):
                continue  # the loader reports it, by file and line
    finally:
        cache.close()
