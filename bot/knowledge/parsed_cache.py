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
        path = self._path(data)
        try:
            text = json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return  # a value JSON cannot hold (a YAML set or binary): parsed each time instead
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
