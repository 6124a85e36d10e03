"""The concern bank: what a live safeguarding concern sounds like in staff words, and what
merely sounds like one, as data the concern detector learns from.

knowledge/concerns/<category>.yaml            exemplars of one category of live concern, each
                                              with the published guidance it paraphrases, and
                                              the category's advice lines for the urgent reply
knowledge/concerns/negatives/<topic>.yaml     hard negatives: policy questions that mention a
                                              sensitive topic but report no child at risk now
knowledge/concerns/model.yaml                 the fitted detector (`policybot concerns fit`)

Validated like every other knowledge file: each problem is reported as file:line.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .yamlio import LineMap

CONCERNS_DIR = "concerns"
NEGATIVES_DIR = "negatives"
MODEL_FILE = "model.yaml"

# The sources exemplars may cite: the published guidance staff are trained on.
SOURCES = {
    "kcsie": "Keeping Children Safe in Education (DfE), Part one and Annex B",
    "nspcc": "NSPCC: signs and indicators of grooming, abuse and neglect",
    "samaritans": "Samaritans: warning signs of suicide",
    "papyrus": "Papyrus: signs a young person may be thinking about suicide",
    "ukcis": "UKCIS: Sharing nudes and semi-nudes, advice for education settings",
    "ceop": "CEOP / Thinkuknow: online sexual abuse and sextortion",
    "prevent": "Prevent duty guidance (Home Office)",
    "county-lines": "Home Office: county lines and child criminal exploitation indicators",
    "missing": "DfE: children who run away or go missing from home or care",
    "safer-working": "Guidance for safer working practice; KCSIE Part four (allegations against staff)",
}

_CATEGORY_KEYS = {"category", "title", "advice", "exemplars"}
_NEGATIVE_KEYS = {"kind", "topic", "title", "exemplars"}
_CONCERN_ENTRY_KEYS = {"text", "source"}
_NEGATIVE_ENTRY_KEYS = {"text", "why"}


@dataclass(frozen=True)
class Exemplar:
    text: str
    label: str  # the category slug for a concern, the topic slug for a negative
    concern: bool
    file: str
    line: int


@dataclass(frozen=True)
class ConcernCategory:
    slug: str
    title: str  # "self-harm or suicide": how the reply and the lead's notice name it
    advice: tuple[str, ...]  # what to do, in the guidance staff are trained on, shortest first


@dataclass(frozen=True)
class ConcernBank:
    categories: dict[str, ConcernCategory]
    exemplars: tuple[Exemplar, ...]
    digest: str  # of every exemplar's label and text, so a fitted model knows what it was fitted on

    @property
    def concerns(self) -> tuple[Exemplar, ...]:
        return tuple(e for e in self.exemplars if e.concern)

    @property
    def negatives(self) -> tuple[Exemplar, ...]:
        return tuple(e for e in self.exemplars if not e.concern)

    def category(self, slug: str) -> ConcernCategory | None:
        return self.categories.get(slug)


EMPTY_BANK = ConcernBank({}, (), "")


def bank_digest(exemplars: tuple[Exemplar, ...]) -> str:
    h = hashlib.sha256()
    for e in sorted(exemplars, key=lambda e: (e.concern, e.label, e.text)):
        h.update(f"{int(e.concern)}\t{e.label}\t{e.text}\n".encode())
    return h.hexdigest()[:16]


_LOADED: dict[tuple, ConcernBank] = {}  # file stamps -> the bank parsed from them, for clean loads


def load_concern_bank(c: Any, root: Path) -> ConcernBank:
    """The bank under root/concerns (empty when the folder is absent). `c` is the knowledge
    loader's problem collector, so bank problems are reported with every other problem.

    Every knowledge directory without its own concerns/ uses the bundled bank, so the same
    ~3,000 exemplars would be parsed again by each load (each school's directory, each test);
    a clean parse is kept per process, keyed by the files' paths, sizes and modification times,
    so an edited file is read afresh."""
    folder = root / CONCERNS_DIR
    if not folder.is_dir():
        return EMPTY_BANK
    files = sorted(f for f in folder.rglob("*.yaml") if f.name != MODEL_FILE)
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if stamp in _LOADED:
        return _LOADED[stamp]
    before = len(c.problems)
    bank = _parse_bank(c, folder)
    if len(c.problems) == before:
        _LOADED.clear()
        _LOADED[stamp] = bank
    return bank


def _parse_bank(c: Any, folder: Path) -> ConcernBank:
    categories: dict[str, ConcernCategory] = {}
    exemplars: list[Exemplar] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == MODEL_FILE:
            continue
        node = c.mapping(path, c.load(path), "concern category file", _CATEGORY_KEYS)
        if node is None:
            continue
        slug = c.text(path, node, "category", "concern category file")
        title = c.text(path, node, "title", "concern category file")
        advice = c.strings(path, node, "advice", "concern category file")
        if slug and slug != path.stem:
            c.add(path, node.line_of("category"), f"category {slug!r} does not match the file name {path.stem!r}")
        if slug and not advice:
            c.add(path, node.line_of("advice"), "a concern category needs 'advice': what staff should do, "
                  "one line each (the urgent reply quotes them)")
        if slug and title:
            categories[slug] = ConcernCategory(slug, title, advice)
        exemplars += _entries(c, path, node, slug, True, seen)
    negatives = folder / NEGATIVES_DIR
    for path in sorted(negatives.glob("*.yaml")) if negatives.is_dir() else []:
        node = c.mapping(path, c.load(path), "hard-negative file", _NEGATIVE_KEYS)
        if node is None:
            continue
        topic = c.text(path, node, "topic", "hard-negative file")
        c.text(path, node, "title", "hard-negative file")
        if node.get("kind") != "negative":
            c.add(path, node.line_of("kind"), "a hard-negative file needs 'kind: negative'")
        exemplars += _entries(c, path, node, topic, False, seen)
    exemplars_t = tuple(exemplars)
    return ConcernBank(categories, exemplars_t, bank_digest(exemplars_t))


def _entries(c: Any, path: Path, node: LineMap, label: str, concern: bool, seen: dict[str, str]) -> list[Exemplar]:
    raw = node.get("exemplars")
    if not isinstance(raw, list) or not raw:
        c.add(path, node.line_of("exemplars"), "'exemplars' must be a non-empty list")
        return []
    keys = _CONCERN_ENTRY_KEYS if concern else _NEGATIVE_ENTRY_KEYS
    out = []
    for item in raw:
        entry = c.mapping(path, item, "exemplar", keys, getattr(raw, "line", 1))
        if entry is None:
            continue
        text = " ".join(c.text(path, entry, "text", "exemplar").split())
        if concern:
            source = c.text(path, entry, "source", "exemplar")
            if source and source not in SOURCES:
                c.add(path, entry.line_of("source"), f"unknown source {source!r} (one of: {', '.join(SOURCES)})")
        else:
            c.text(path, entry, "why", "hard negative")
        if not text:
            continue
        key = text.lower()
        if key in seen:
            c.add(path, entry.line, f"exemplar repeated (first in {seen[key]})")
            continue
        seen[key] = f"{c.rel(path)}:{entry.line}"
        out.append(Exemplar(text, label, concern, c.rel(path), entry.line))
    return out
