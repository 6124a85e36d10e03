"""Writes a lead's reusable answer as a note, and an approved question as a phrasing, into the
knowledge directory: atomically, validated, never corrupting what is there.

Why this care: these files are loaded at every start; a half-written or invalid one would stop
the bot loading at all. So each write is: take the directory's write lock (two leads saving
at once must not lose one), check the knowledge base loads now, append the new record to the
file's text (the reviewer's comments and order stay), check that the new text parses to the
old records plus exactly the new one, write it to a temporary file beside the target, fsync,
rename over the target, and load the whole knowledge base again; if that fails the old
contents are put back. Any failure is a KnowledgeWriteError whose message the lead is shown.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from .load import KnowledgeError, load_knowledge
from .notes import LEAD_ANSWER, NOTES_DIR, PHRASINGS_DIR

LOCK_FILE = ".policybot-write.lock"
MAX_QUESTION_CHARS = 1000

NOTES_HEADER = """\
# Guidance {school}'s lead gave in answer to escalated questions and marked reusable.
# policybot answers later, similar questions with it, shown as the lead's guidance (not policy).
# Written by policybot when the lead saves an answer; edit or delete notes freely, then run
# `policybot kb check`. A note's question is kept only when the lead chose to keep it.
"""
PHRASINGS_HEADER = """\
# Escalated questions {school}'s lead approved (and reworded) as further phrasings of the
# clause or note that answered them, so the bot recognises the school's own wording.
# Written by policybot; edit or delete freely, then run `policybot kb check`.
"""


class KnowledgeWriteError(RuntimeError):
    """Nothing was written (or what was written was put back); the message says why."""


@dataclass(frozen=True)
class Keep:
    """What the lead chose to keep from an answer. Nothing is written without a say-so:
    `note` saves the answer as guidance; `keep_question` keeps `question` (the wording the
    lead reviewed, since questions may name children) in that note; `phrasing` adds `question`
    as an `about` phrasing of `phrasing_for` (a clause id; empty: the new note)."""

    note: bool = False
    question: str = ""
    keep_question: bool = False
    phrasing: bool = False
    phrasing_for: str = ""

    @property
    def wanted(self) -> bool:
        return self.note or self.phrasing

    def check(self) -> None:
        """The request's own sense, before anything is answered or written (ValueError)."""
        needs_question = (self.note and self.keep_question) or self.phrasing
        if needs_question and not " ".join(self.question.split()):
            raise ValueError("the question to keep is empty: type it as it should be kept "
                             "(leave out any child's name)")
        if len(self.question) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question to keep is over {MAX_QUESTION_CHARS} characters; shorten it")
        if self.phrasing and not self.phrasing_for and not self.note:
            raise ValueError("say which clause the question is a phrasing of, or save the answer "
                             "as guidance for it to be a phrasing of that")


@dataclass(frozen=True)
class Kept:
    """What was written, for the lead's confirmation."""

    note_id: str = ""
    note_file: str = ""
    phrasing_for: str = ""
    phrasing_file: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. "the phrasing was there already"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _entry_yaml(entry: dict) -> str:
    """One list item, indented under its file's list key."""
    text = yaml.dump([entry], Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    return "".join("  " + line if line.strip() else line for line in text.splitlines(keepends=True))


def _appended(path: Path, school: str, key: str, entry: dict, header: str) -> str:
    """The file's new text: its old text with `entry` appended to its `key` list, or, when the
    old text cannot simply be appended to (flow style, another key last), a fresh dump."""
    if not path.exists():
        return header.format(school=school) + f"school: {school}\n{key}:\n" + _entry_yaml(entry)
    try:
        old_text = path.read_text(encoding="utf-8")
        old = yaml.safe_load(old_text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeWriteError(f"{path} cannot be read as YAML ({type(exc).__name__}); fix it "
                                  "(policybot kb check names the line) and try again") from None
    if not isinstance(old, dict) or not isinstance(old.get(key, []), list):
        raise KnowledgeWriteError(f"{path} is not a {key} file (policybot kb check says why)")
    items = list(old.get(key) or [])
    candidate = old_text + ("" if old_text.endswith("\n") else "\n")
    if key not in old:
        candidate += f"{key}:\n"
    candidate += _entry_yaml(entry)
    try:
        new = yaml.safe_load(candidate)
    except yaml.YAMLError:
        new = None
    expected = {**old, key: items + [entry]}
    if isinstance(new, dict) and _plain(new) == _plain(expected):
        return candidate
    # Appending would not mean the same thing (e.g. `notes: []`): write the records afresh.
    return header.format(school=school) + yaml.dump(expected, Dumper=_Dumper, sort_keys=False,
                                                    allow_unicode=True, width=100, default_flow_style=False)


def _plain(value):
    """YAML values compared as written (safe_load reads unquoted dates as dates)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if value is not None else None


def _atomic_write(path: Path, text: str) -> None:
    """Temporary file beside the target, fsync, rename over it, fsync the folder: a reader
    sees the old file or the new one, never a part of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def save(root: Path, school: str, keep: Keep, *, answer: str, author: str, role: str, day: str,
         escalation_id: str) -> Kept:
    """Write what `keep` asks for; raises KnowledgeWriteError (nothing left changed) on failure,
    ValueError when the request itself makes no sense. `day`: YYYY-MM-DD."""
    keep.check()
    root = Path(root)
    if not keep.wanted:
        return Kept()
    question = " ".join(keep.question.split())
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root):
            return _save_locked(root, school, keep, question, answer=answer.strip(), author=author, role=role,
                                day=day, escalation_id=escalation_id)
    except OSError as exc:
        raise KnowledgeWriteError(f"could not write to the knowledge directory {root}: {exc.strerror or exc}; "
                                  "nothing was changed") from None


def _save_locked(root: Path, school: str, keep: Keep, question: str, *, answer: str, author: str, role: str,
                 day: str, escalation_id: str) -> Kept:
    try:
        kb = load_knowledge(root)
    except KnowledgeError as exc:
        raise KnowledgeWriteError(f"the knowledge base has {len(exc.problems)} problem(s) already (first: "
                                  f"{exc.problems[0]}); run policybot kb check and fix them first; nothing "
                                  "was written") from None
    record = kb.school(school)
    writes: list[tuple[Path, str]] = []
    kept: dict = {"notes": []}
    note_id = f"note-{escalation_id}"
    if keep.note:
        if any(c.id == note_id for c in record.clauses):
            raise KnowledgeWriteError(f"this answer is saved already, as {note_id}; nothing was written")
        entry = {"id": note_id, "source": LEAD_ANSWER}
        if keep.keep_question:
            entry["question"] = question
        entry.update({"text": answer, "author": author})
        if role:
            entry["role"] = role
        entry.update({"date": day, "escalation": escalation_id})
        path = root / NOTES_DIR / f"{school}.yaml"
        writes.append((path, _appended(path, school, "notes", entry, NOTES_HEADER)))
        kept.update(note_id=note_id, note_file=_rel(root, path))
    if keep.phrasing:
        target = keep.phrasing_for or note_id
        clause = next((c for c in record.clauses if c.id == target), None)
        if clause is None and not (keep.note and target == note_id):
            raise KnowledgeWriteError(f"{school} has no clause {target!r} for the phrasing; nothing was written")
        if clause is None and keep.keep_question:
            kept["notes"].append("the question is kept with the note, which the bot searches already")
        elif clause is not None and question.lower() in (a.lower() for a in clause.about):
            kept["notes"].append(f"{target} already has that phrasing")
        else:
            entry = {"clause": target, "about": question, "author": author, "date": day,
                     "escalation": escalation_id}
            if clause is not None and sum(c.id == target for c in record.clauses) > 1:
                entry["policy"] = clause.policy_id
            path = root / PHRASINGS_DIR / f"{school}.yaml"
            writes.append((path, _appended(path, school, "phrasings", entry, PHRASINGS_HEADER)))
            kept.update(phrasing_for=target, phrasing_file=_rel(root, path))
    originals = {path: (path.read_bytes() if path.exists() else None) for path, _ in writes}
    try:
        for path, text in writes:
            _atomic_write(path, text)
        load_knowledge(root)
    except (KnowledgeError, OSError) as exc:
        _restore(originals)
        why = exc.problems[0] if isinstance(exc, KnowledgeError) else (exc.strerror or exc)
        raise KnowledgeWriteError(f"the note could not be saved ({why}); nothing was changed") from None
    return Kept(note_id=kept.get("note_id", ""), note_file=kept.get("note_file", ""),
                phrasing_for=kept.get("phrasing_for", ""), phrasing_file=kept.get("phrasing_file", ""),
                notes=tuple(kept["notes"]))


def _restore(originals: dict[Path, bytes | None]) -> None:
    for path, data in originals.items():
        with contextlib.suppress(OSError):
            if data is None:
                path.unlink(missing_ok=True)
            else:
                _atomic_write(path, data.decode("utf-8"))
