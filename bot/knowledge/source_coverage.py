"""How much of a policy's source text its clauses carry: the check that no rule was left out.

A sentence of the source (outside the ranges the author excluded as title block, form or
footer) is covered when it occurs, whitespace folded, inside some clause's text or
lead-in; a heading line is covered when it is some clause's section.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .load import Policy
from ..retrieval.text import collapse_ws

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(*])")
_MARKER = re.compile(r"^(?:#+\s*|[-\u2022\u27a4>]\s+|\*\*)*")
_BULLET = re.compile(r"^\s*[-\u2022\u27a4>]\s")
_WORDY = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Coverage:
    covered: int
    total: int
    missing: tuple[str, ...]

    @property
    def ratio(self) -> float:
        return self.covered / self.total if self.total else 1.0


def _blocks(lines: list[str]) -> list[str]:
    blocks, current = [], []
    for line in lines:
        if line.strip():
            if current and _BULLET.match(line):
                blocks.append(" ".join(current))
                current = []
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return blocks


_NUMBER = re.compile(r"^(?:[A-Z]\.?\s?)?\d+(?:\.\d+)*\.?\)?\s+")


def _bare(text: str) -> str:
    """A heading without markup or its number: '# 3. Monitoring' and 'Monitoring' match."""
    plain = collapse_ws(_MARKER.sub("", text).replace("**", "").strip()).strip(" :*#")
    return _NUMBER.sub("", plain).lower()


def source_sentences(policy: Policy, source: str) -> list[str]:
    lines = source.splitlines()
    excluded = {n for a, b, _ in policy.excluded for n in range(a, b + 1)}
    keep = [line if n not in excluded else "" for n, line in enumerate(lines, start=1)]
    sentences = []
    for block in _blocks(keep):
        body = collapse_ws(_MARKER.sub("", block))
        sentences.extend(s for s in _SENTENCE_END.split(body) if _WORDY.search(s))
    return sentences


def coverage(policy: Policy, knowledge_dir: Path) -> Coverage:
    source = (knowledge_dir / policy.source).read_text(encoding="utf-8")
    # Clause texts and lead-ins are whitespace-folded when loaded, as are the sentences here.
    texts = [t for c in policy.clauses for t in (c.text, c.lead_in) if t]
    carried = " \u2016 ".join(texts)
    # Most source sentences are a clause's sentence as it stands: a set lookup, before the
    # substring search through every clause that the rest need.
    whole = {piece for t in texts for piece in _SENTENCE_END.split(t)}
    sections = {_bare(s) for s in {c.section for c in policy.clauses}}
    missing = []
    sentences = source_sentences(policy, source)
    for plain in sentences:
        # Cheapest first: a set lookup for a clause's sentence or a heading, and only then the
        # search through every clause's text.
        if plain in whole or _bare(plain) in sections:
            continue
        if plain in carried or _NUMBER.sub("", plain) in carried:
            continue
        missing.append(plain)
    return Coverage(len(sentences) - len(missing), len(sentences), tuple(missing))
