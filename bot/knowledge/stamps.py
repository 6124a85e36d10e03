"""What a knowledge directory looks like on disk right now, for reloading without a restart.

Two views of the same files, for two jobs:

* `stamps` (path, size, modification time per file) is what the server polls every few
  seconds: a directory listing and one stat per file, no reading, so polling stays cheap;
* `version` (a digest of every file's path and bytes) names the knowledge a bot was built
  from, so /readyz can say which version is serving and a reload of identical files is a
  no-op however the file times moved (an editor that saves without changes, `touch`).

Hidden files and folders (editor swap files, `.replaced/` backups) and `~` backups are not
knowledge and are left out of both, so an editor's autosave does not trigger a reload.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .load import concern_root

Stamps = tuple[tuple[str, int, int], ...]


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.endswith(("~", ".tmp", ".swp"))


def _entries(root: str, out: list[os.DirEntry]) -> list[os.DirEntry]:
    """Every knowledge file under root, depth first in name order (os.scandir: no Path objects,
    so a poll of the bundled 58 files costs about a tenth of a millisecond)."""
    try:
        with os.scandir(root) as it:
            entries = sorted((e for e in it if not _ignored(e.name)), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.is_dir(follow_symlinks=True):
            _entries(entry.path, out)
        elif entry.is_file(follow_symlinks=True):
            out.append(entry)
    return out


def _files(root: Path) -> list[Path]:
    return [Path(e.path) for e in _entries(str(root), [])]


def watched_roots(root: Path) -> list[Path]:
    """The knowledge directory, and the bundled concern bank when it has none of its own (the
    loader reads that one then, so a change there is a change to what is served)."""
    root = Path(root)
    concerns = concern_root(root)
    return [root] if concerns == root else [root, concerns / "concerns"]


def stamps(root: Path) -> Stamps:
    """(path, size, mtime in ns) for every knowledge file; a file that vanishes mid-walk is left out."""
    out = []
    for base in watched_roots(root):
        for entry in _entries(str(base), []):
            try:
                st = entry.stat()
            except OSError:
                continue
            out.append((entry.path, st.st_size, st.st_mtime_ns))
    return tuple(out)


def version(root: Path) -> str:
    """A short digest of every knowledge file's relative path and contents."""
    digest = hashlib.sha256()
    for base in watched_roots(root):
        for path in _files(base):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            digest.update(str(path.relative_to(base)).encode("utf-8", "surrogateescape") + b"\0")
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:12]


__all__ = ["Stamps", "stamps", "version", "watched_roots"]
