"""The lead's reviewed answers (notes) and the extra phrasings they approved, as knowledge files.

knowledge/notes/<school>.yaml       guidance the school's lead gave in answer to an escalated
                                    question and marked reusable: each note a clause-like record
                                    (`source: lead answer`, text, author, date, and the question it
                                    answered only when the lead chose to keep it)
knowledge/phrasings/<school>.yaml   escalated questions the lead approved (and reworded) as further
                                    `about` phrasings of the clause or note that answered them

Why files, not the database: a note is knowledge a person reviewed, like a clause; it lives
beside the policy, is read by `kb check` and diffed and backed up with it, and the loader
treats it as one more of that school's clauses (so retrieval finds it, for that school only).

Validated like every other knowledge file (file:line, every problem at once). This module
returns plain records; bot/knowledge/load.py turns them into Clauses (it imports this module,
so this one must not import it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .yamlio import LineMap

NOTES_DIR = "notes"
PHRASINGS_DIR = "phrasings"
LEAD_ANSWER = "lead answer"          # a note's `source`; policy clauses have source POLICY
POLICY = "policy"
NOTES_POLICY_ID = "lead-guidance"    # the policy id notes carry, so a citation can name its "policy"
NOTES_TITLE = "Guidance from the lead"
NOTES_SECTION = "Lead's guidance"

NOTE_KEYS = {"id", "source", "question", "text", "author", "role", "date", "escalation", "about", "stance"}
PHRASING_KEYS = {"clause", "policy", "about", "author", "date", "escalation"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class NoteRecord:
    """One note as written, with where it was written (for problems and for the Clause)."""

    id: str
    text: str
    author: str
    role: str
    date: str
    question: str
    about: tuple[str, ...]
    stance: str
    escalation: str
    file: str
    line: int

    @property
    def author_display(self) -> str:
        """'Ms A Lead (Online Safety Lead)', or the name alone when no role is written."""
        return f"{self.author} ({self.role})" if self.role else self.author


@dataclass(frozen=True)
class PhrasingRecord:
    clause: str
    policy: str
    about: str
    path: Path
    line: int


def _file_node(c: Any, path: Path, slug: str, list_key: str) -> list | None:
    """The file's list under `list_key`, after checking the file names its own school."""
    raw = c.load(path)
    if raw is None:
        return None
    node = c.mapping(path, raw, f"{list_key} file", {"school", list_key})
    if node is None:
        return None
    school = c.text(path, node, "school", f"{list_key} file")
    if school and school != slug:
        c.add(path, node.line_of("school"), f"{list_key} file says school {school!r} but is named {path.stem}.yaml")
    items = node.get(list_key)
    if items is None:
        return []
    if not isinstance(items, list):
        c.add(path, node.line_of(list_key), f"'{list_key}' must be a list of records (each starting with '- ')")
        return None
    return items


def _valid_date(c: Any, path: Path, node: LineMap, key: str, where: str) -> str:
    value = c.text(path, node, key, where)
    if not value:
        return ""
    try:
        if not _ISO_DATE.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        c.add(path, node.line_of(key), f"{where}: '{key}' must be a date written YYYY-MM-DD, not {value!r}")
        return ""
    return value


def load_notes(c: Any, path: Path, slug: str, clause_id: re.Pattern, stances: tuple[str, ...],
               taken: set[str]) -> list[NoteRecord]:
    """The notes in one school's notes file. `taken`: the school's clause ids, so a note can
    never shadow a policy clause (ids are how citations, feedback and phrasings name them)."""
    items = _file_node(c, path, slug, "notes")
    out: list[NoteRecord] = []
    seen: dict[str, int] = {}
    for item in items or []:
        node = c.mapping(path, item, "note", NOTE_KEYS)
        if node is None:
            continue
        nid = c.text(path, node, "id", "note")
        where = f"note {nid}" if nid else "note"
        if nid:
            if not clause_id.match(nid):
                c.add(path, node.line_of("id"), f"{where}: id may hold only letters, digits, '.', '-', '(' and ')'")
            elif nid in seen:
                c.add(path, node.line_of("id"), f"duplicate note id {nid!r} (first on line {seen[nid]})")
            elif nid in taken:
                c.add(path, node.line_of("id"), f"{where}: id is already a clause of this school's policy")
            seen.setdefault(nid, node.line_of("id"))
        source = c.text(path, node, "source", where)
        if source and source != LEAD_ANSWER:
            c.add(path, node.line_of("source"), f"{where}: source must be {LEAD_ANSWER!r} (it is {source!r})")
        text = c.text(path, node, "text", where)
        author = c.text(path, node, "author", where)
        when = _valid_date(c, path, node, "date", where)
        stance = c.text(path, node, "stance", where, required=False)
        if stance and stance not in stances:
            c.add(path, node.line_of("stance"), f"{where}: unknown stance {stance!r} (one of: {', '.join(stances)})")
            stance = ""
        if nid and text and author and when and source == LEAD_ANSWER:
            out.append(NoteRecord(
                id=nid, text=str(text).strip(), author=author, role=c.text(path, node, "role", where, required=False),
                date=when, question=c.text(path, node, "question", where, required=False),
                about=c.strings(path, node, "about", where), stance=stance,
                escalation=c.text(path, node, "escalation", where, required=False),
                file=c.rel(path), line=node.line))
    return out


def load_phrasings(c: Any, path: Path, slug: str) -> list[PhrasingRecord]:
    """The approved phrasings in one school's phrasings file (which clause each is for is
    checked by the caller, which knows the school's clauses)."""
    items = _file_node(c, path, slug, "phrasings")
    out: list[PhrasingRecord] = []
    for item in items or []:
        node = c.mapping(path, item, "phrasing", PHRASING_KEYS)
        if node is None:
            continue
        clause = c.text(path, node, "clause", "phrasing")
        about = c.text(path, node, "about", f"phrasing for {clause}" if clause else "phrasing")
        if node.get("date") is not None:
            _valid_date(c, path, node, "date", "phrasing")
        if clause and about:
            out.append(PhrasingRecord(clause, c.text(path, node, "policy", "phrasing", required=False),
                                      " ".join(about.split()), path, node.line_of("clause")))
    return out


def resolve_phrasing(c: Any, p: PhrasingRecord, clauses: list) -> Any | None:
    """The one clause (or note) a phrasing is for, from the school's clauses; a problem naming
    the phrasing's line when there is none, or more than one and no `policy` to choose."""
    matches = [cl for cl in clauses if cl.id == p.clause and (not p.policy or cl.policy_id == p.policy)]
    if not matches:
        known = "" if p.policy else " (a note's id works too)"
        c.add(p.path, p.line, f"phrasing for {p.clause!r}: no such clause in this school's knowledge{known}")
        return None
    if len(matches) > 1:
        c.add(p.path, p.line, f"phrasing for {p.clause!r}: that id is in several policies "
                              f"({', '.join(sorted(m.policy_id for m in matches))}); add policy: ID")
        return None
    return matches[0]


def orphan_files(c: Any, root: Path, known: set[str]) -> None:
    """A notes or phrasings file for a school that does not exist is a problem, not silence."""
    for folder in (NOTES_DIR, PHRASINGS_DIR):
        directory = root / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):
                continue  # an editor's or the writer's temporary file
            if path.suffix != ".yaml":
                c.add(path, 0, f"{folder}/ holds only <school>.yaml files")
            elif path.stem not in known:
                c.add(path, 0, f"{folder} for unknown school {path.stem!r} (no schools/{path.stem}.yaml)")
