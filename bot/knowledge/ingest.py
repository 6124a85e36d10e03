"""Draft clause YAML from a policy's plain text or markdown, keeping its own numbering.

The draft is a starting point for a human review, not the knowledge base itself:
school policies are typed by hand and extracted from PDFs, so headings, page footers
and forms come out looking like clauses. The parser makes the common cases right
(numbered paragraphs, bullets under a lead-in, headings) and marks what it guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_BULLET = re.compile(r"^\s*(?:[-\u2022\u27a4>]|\u27a4)\s+")
# "1.1", "2.2.1", "9.1.", "A.4.11", "A. 1.8", "A 3.2", "1)" at the start of a block.
_NUMBER = re.compile(r"^(?P<num>(?:[A-Z]\.?\s?)?\d+(?:\.\d+)+\.?|[A-Z]\.\d+|\d+\.?\d*\)?)\s+(?P<rest>\S.*)$", re.S)
_MD_HEADING = re.compile(r"^#+\s*")
_LEAD_IN_VERB = re.compile(r"\b(must|should|shall|will|are|is|include|includes|apply|expected)\b", re.I)
_TERMINAL = re.compile(r"[.;:!?)\"']\s*$")


@dataclass
class Block:
    line: int
    text: str
    bullet: bool = False


@dataclass
class DraftClause:
    id: str
    section: str
    text: str
    line: int
    lead_in: str = ""
    notes: list[str] = field(default_factory=list)


def _blocks(lines: list[str]) -> list[Block]:
    """Paragraphs and bullets; a paragraph broken across a blank line mid-sentence is re-joined."""
    blocks: list[Block] = []
    current: Block | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            current = None
            continue
        bullet = bool(_BULLET.match(line))
        if bullet or current is None:
            prev = blocks[-1] if blocks else None
            body = _BULLET.sub("", line).strip() if bullet else line.strip()
            if (not bullet and prev and not _TERMINAL.search(prev.text) and body[:1].islower()):
                prev.text += " " + body
                current = prev
                continue
            current = Block(number, body, bullet)
            blocks.append(current)
        else:
            current.text += " " + line.strip()
    return blocks


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:4]) or "section"


def _normalise_number(num: str) -> str:
    num = num.rstrip(".)")
    num = re.sub(r"^([A-Z])\.?\s?", r"\1.", num) if num[:1].isalpha() else num
    return num


def _is_heading(text: str, numbered: bool) -> bool:
    plain = text.replace("*", "").strip()
    words = plain.split()
    if not words or len(words) > 10:
        return False
    if plain.endswith((".", ";", ",")):
        return False
    if plain.endswith(":") and _LEAD_IN_VERB.search(plain):
        return False  # "7.1 On social media sites, employees must not:" introduces bullets
    if plain.isupper() or numbered:
        return True
    return plain.endswith(":") is False and plain[0].isupper() and len(words) <= 8


def parse(text: str) -> list[DraftClause]:
    """Clauses in document order, with ids from the text's own numbering where it has one."""
    lines = text.splitlines()
    clauses: list[DraftClause] = []
    section, section_slug = "Preamble", "preamble"
    ordinal: dict[str, int] = {}
    lead_in, lead_id, sub = "", "", 0
    used: set[str] = set()

    def unique(cid: str) -> str:
        base, n = cid, 2
        while cid in used:
            cid, n = f"{base}-{n}", n + 1
        used.add(cid)
        return cid

    for block in _blocks(lines):
        body = _MD_HEADING.sub("", block.text).strip()
        md_heading = block.text.lstrip().startswith("#")
        m = _NUMBER.match(body)
        number = _normalise_number(m["num"]) if m else ""
        rest = m["rest"].strip() if m else body
        if md_heading or (not block.bullet and _is_heading(rest, bool(m))):
            section = body.replace("*", "").strip().rstrip(":")
            section_slug = _slug(rest)
            lead_in, lead_id, sub = "", "", 0
            continue
        if block.bullet and lead_in and not m:
            sub += 1
            cid = unique(f"{lead_id}({chr(ord('a') + sub - 1) if sub <= 26 else sub})")
            draft = DraftClause(cid, section, body, block.line, lead_in=lead_in)
            if not lead_in.rstrip().endswith(":"):
                draft.notes.append("lead-in guessed from the paragraph before: check")
            clauses.append(draft)
            continue
        if m and re.fullmatch(r"[A-Z]?\.?\d+(\.\d+)*", number.replace(" ", "")):
            cid = unique(number)
        else:
            ordinal[section_slug] = ordinal.get(section_slug, 0) + 1
            cid = unique(f"{section_slug}-{ordinal[section_slug]}")
            rest = body
        clause = DraftClause(cid, section, rest, block.line)
        if not m and not block.bullet:
            clause.notes.append("unnumbered paragraph: check id")
        clauses.append(clause)
        if not block.bullet:
            # Any paragraph may introduce the bullets that follow it ("... guidance (which
            # is not exhaustive)." is as much a lead-in as one ending in a colon).
            lead_in, lead_id, sub = rest, cid, 0
    return clauses


def draft_yaml(path: Path, school: str, policy_id: str = "social-media-policy") -> str:
    """The draft policy YAML for one source file, ready for a human to review.

    Each clause is preceded by a comment giving its source line and what the parser guessed,
    so the reviewer can go straight to the doubtful ones."""
    clauses = parse(path.read_text(encoding="utf-8"))
    meta = {
        "id": policy_id,
        "school": school,
        "title": "TODO: title as written",
        "adopted": "TODO",
        "reviewed": "TODO",
        "next_review": "TODO: as written, e.g. September 2025",
        "associated_policies": [],
        "source": f"sources/{school}{path.suffix}",
        "excluded": [],
    }
    out = [f"# Draft from {path.name} by `policybot ingest`. Review by hand: ids, sections, lead-ins,\n"
           "# title block / forms / footers to exclude (excluded: lines), and about: phrases.\n",
           yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100), "clauses:\n"]
    for c in clauses:
        item = {"id": c.id, "section": c.section}
        if c.lead_in:
            item["lead_in"] = c.lead_in
        item["text"] = c.text
        item["about"] = []
        notes = "; ".join(c.notes)
        out.append(f"  # source line {c.line}" + (f"; {notes}" if notes else "") + "\n")
        dumped = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=100)
        out.append("".join("  " + line + "\n" for line in dumped.splitlines()))
    return "".join(out)
