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
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from .dates import Metadata

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
    heading: bool | None = None  # True/False when the document says (a Word heading style); None: guess
    level: int = 1  # bullet nesting


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


# Words a heading's id stem may not end on (see `_slug`).
_SLUG_TAIL = frozenset("a an the of by for to in on at with from and or our your its their".split())
_SLUG_WORDS = 4


def _slug(text: str) -> str:
    """The id stem of an unnumbered section's clauses: the heading's first few words.

    The same heading always gives the same stem, so a re-ingested document keeps its ids. An
    apostrophe joins its word ("School's use of social media" is `schools-use-of-social`), and a
    stem cut after a connective word loses it ("Who is covered by the policy" is `who-is-covered`),
    so ids read as words and stay short."""
    folded = re.sub(r"(?<=[a-z0-9])['\u2019](?=[a-z])", "", text.lower())
    words = re.findall(r"[a-z0-9]+", folded)
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    words = words[:_SLUG_WORDS]
    while len(words) > 1 and words[-1] in _SLUG_TAIL:
        words.pop()
    return "-".join(words) or "section"


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
    return parse_blocks(_blocks(text.splitlines()))


def parse_blocks(blocks: list[Block]) -> list[DraftClause]:
    """Clauses from blocks whose boundaries are known (from a document or from `_blocks`)."""
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

    for block in blocks:
        body = _MD_HEADING.sub("", block.text).strip()
        md_heading = block.text.lstrip().startswith("#") if block.heading is None else block.heading
        m = _NUMBER.match(body)
        number = _normalise_number(m["num"]) if m else ""
        rest = m["rest"].strip() if m else body
        if md_heading or (block.heading is None and not block.bullet and _is_heading(rest, bool(m))):
            section = body.replace("*", "").strip().rstrip(":")
            section_slug = _slug(rest)
            lead_in, lead_id, sub = "", "", 0
            continue
        # "- 1) Care ..." typed under a lead-in is an item of its list, as the same list numbered
        # by Word (the number not in the text) is: not clause 1 of the policy.
        enumerated = bool(m) and block.bullet and re.fullmatch(r"\d+\)", m["num"].strip()) is not None
        if block.bullet and lead_in and (not m or enumerated):
            sub += 1
            cid = unique(f"{lead_id}({chr(ord('a') + sub - 1) if sub <= 26 else sub})")
            draft = DraftClause(cid, section, rest if enumerated else body, block.line, lead_in=lead_in)
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
        if not block.bullet or (m and rest.rstrip().endswith(":")):
            # Any paragraph may introduce the bullets that follow it ("... guidance (which
            # is not exhaustive)." is as much a lead-in as one ending in a colon), and so may a
            # numbered bullet ending in a colon ("- 3.1 The purpose of this policy is to:").
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
    out += _clause_yaml(clauses)
    return "".join(out)


# ---------------------------------------------------------------- any document (.docx, .pdf, .html, ...)

_FORM_TITLE = re.compile(r"\bform\b", re.I)
_FORM_KIND = re.compile(r"\b(approval|consent|sign|application|request|agreement|declaration|acknowledg)", re.I)
_SIGN_OFF = re.compile(r"\b(signature|signed|sign here)\b", re.I)
_FORM_FIELDS = re.compile(r"(?:(?:print\s+)?name|date|signature|signed|position|role)(?:[\s:_./]+"
                          r"(?:(?:print\s+)?name|date|signature|signed|position|role))*[\s:_.]*", re.I)
_APPENDIX = re.compile(r"^(appendix|annex|annexe)\b", re.I)


@dataclass
class Draft:
    """What `policybot ingest` makes of one document: the clauses, the metadata it found, the
    source text the clauses quote (to save as the policy's `source:`), and what it left out."""

    clauses: list[DraftClause]
    metadata: "Metadata"
    source_text: str
    skipped: list  # documents.Skipped
    title_lines: tuple[int, int] | None = None  # source lines of the title block, if any
    form_lines: list[tuple[int, int, str]] = field(default_factory=list)

    def excluded(self) -> list[dict]:
        """The policy's `excluded:` entries: the title block and the forms, by source line."""
        out = []
        if self.title_lines:
            out.append({"lines": f"{self.title_lines[0]}-{self.title_lines[1]}",
                        "why": "title block (title, dates), read into the fields above"})
        out += [{"lines": f"{a}-{b}", "why": f"form: {title}"} for a, b, title in self.form_lines]
        return out


def _title_block(doc, meta) -> int:
    """How many leading blocks are the title page: school name, title, dates, motto."""
    stated = {" ".join(v.split()) for v in meta.found_in.values()}
    last, title_seen = -1, False
    for i, block in enumerate(doc.blocks[:15]):
        text = " ".join(block.text.split())
        if text == meta.title and title_seen:
            break  # the title again, as the first heading of the body
        title_seen = title_seen or text == meta.title
        if text in stated or text == meta.title or re.search(r"\b(adopted|ratified|approved)\s+by\b", text, re.I):
            last = i
        elif len(text.split()) >= 12 and last < 0:
            break  # the body has begun and no title page was seen
    if last < 0:
        return 0
    end = last + 1
    while end < len(doc.blocks) and doc.blocks[end].kind == "para" and len(doc.blocks[end].text.split()) <= 4 \
            and not _TERMINAL.search(doc.blocks[end].text):
        end += 1  # "Trusted service", a provider's strap-line after the dates
    return end


def _forms(doc) -> list[tuple[int, int, str]]:
    """Block ranges [start, end) that are sign-off forms: a block titled "... Approval Form" up to
    the last signature table after it (or just the title when no signature follows)."""
    ranges = []
    for i, block in enumerate(doc.blocks):
        text = block.text
        if not (_FORM_TITLE.search(text) and _FORM_KIND.search(text) and len(text.split()) <= 10
                and not _TERMINAL.search(text)):
            continue
        if ranges and i < ranges[-1][1]:
            continue
        start = i - 1 if i and _APPENDIX.match(doc.blocks[i - 1].text) else i
        # The form ends at its last signature line: a signature table (Word), or the same
        # table read as short lines of body text (a PDF has no tables to tell apart).
        signs = [s.after for s in doc.skipped if s.kind == "table" and s.after > i and s.after - i <= 120
                 and _SIGN_OFF.search(s.text)]
        signs += [j + 1 for j in range(i + 1, min(i + 121, len(doc.blocks)))
                  if doc.blocks[j].kind != "heading" and _SIGN_OFF.search(doc.blocks[j].text)
                  and len(doc.blocks[j].text.split()) <= 25]
        end = max(signs) if signs else i + 1
        while end < len(doc.blocks) and _FORM_FIELDS.fullmatch(doc.blocks[end].text.strip()):
            end += 1  # a "Date" box left over after the last signature
        ranges.append((start, end, text))
    return sorted(ranges + _checklists(doc, ranges))


_TICK_BOX = re.compile(r"(?:\byes\s*/\s*no|\by\s*/\s*n|[\u2610\u25a1\u2611\u2612])\s*$", re.I)


def _checklists(doc, forms: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Runs of two or more lines ending in an answer box ("... Yes/No", "... \u2610"): a checklist
    to tick, which Word keeps as a table but a PDF gives as lines of text. A short title line
    just before the run ("... Checklist") goes with it."""
    inside = {k for a, b, _ in forms for k in range(a, b)}
    out, i, blocks = [], 0, doc.blocks
    while i < len(blocks):
        j = i
        while j < len(blocks) and j not in inside and blocks[j].kind != "heading" and _TICK_BOX.search(blocks[j].text):
            j += 1
        if j - i >= 2:
            start = i - 1 if i and i - 1 not in inside and blocks[i - 1].kind != "bullet" \
                and len(blocks[i - 1].text.split()) <= 10 and not _TERMINAL.search(blocks[i - 1].text) else i
            out.append((start, j, blocks[start].text if start < i else "checklist"))
            i = j
        else:
            i += 1
    return out


def read_draft(path: Path) -> Draft:
    """Read any supported document into a draft (documents.DocumentError if it cannot be read)."""
    from .dates import find_metadata
    from .documents import Skipped, read_document, to_text

    doc = read_document(path)
    meta = find_metadata(doc.meta_lines, doc.title_style)
    source_text, starts = to_text(doc)
    n_lines = source_text.count("\n") + 1
    ends = [s - 1 for s in starts[1:]] + [n_lines]
    title_end = _title_block(doc, meta)
    forms = _forms(doc)
    dropped = set(range(title_end))
    for a, b, _ in forms:
        dropped.update(range(a, b))
    blocks = []
    for i, tb in enumerate(doc.blocks):
        if i in dropped:
            continue
        prefix = "#" * tb.level + " " if tb.kind == "heading" else ""
        blocks.append(Block(starts[i], prefix + tb.text, bullet=tb.kind == "bullet",
                            heading=True if tb.kind == "heading" else None, level=tb.level))
    clauses = parse_blocks(blocks)
    skipped = list(doc.skipped)
    title_lines = (1, ends[title_end - 1]) if title_end else None
    if title_lines:
        skipped.insert(0, Skipped("title block", f"{doc.blocks[0].where} to {doc.blocks[title_end - 1].where}",
                                  " / ".join(b.text for b in doc.blocks[:title_end])))
    form_lines = []
    for a, b, title in forms:
        form_lines.append((starts[a], ends[b - 1], title))
        skipped.append(Skipped("form", f"{doc.blocks[a].where} to {doc.blocks[b - 1].where}",
                               " / ".join(x.text for x in doc.blocks[a:b])))
    return Draft(clauses, meta, source_text, skipped, title_lines, form_lines)


def draft_document_yaml(draft: Draft, name: str, school: str, policy_id: str = "social-media-policy",
                        source: str = "") -> str:
    """The draft policy YAML, metadata filled from the document where it states it."""
    meta = draft.metadata
    excluded = draft.excluded()
    head = {
        "id": policy_id,
        "school": school,
        "title": meta.title or "TODO: title as written",
        "adopted": meta.adopted,  # optional: empty when the document does not say
        "reviewed": meta.reviewed,
        "next_review": meta.next_review or "TODO: as written, e.g. September 2025",
        "associated_policies": [],
        "source": source or f"sources/{school}.txt",
        "excluded": excluded,
    }
    notes = [f"# Draft from {name} by `policybot ingest`. Review by hand: ids, sections, lead-ins and\n",
             "# about: phrases. Left out of the clauses (check nothing that matters is here):\n"]
    notes += [f"#   {s}\n" for s in draft.skipped] or ["#   nothing\n"]
    for key in ("title", "adopted", "reviewed", "next_review"):
        if key in meta.found_in:
            notes.append(f"# {key} read from: {meta.found_in[key][:100]}\n")
        elif key != "reviewed":
            notes.append(f"# {key}: not stated in the document; fill it in\n")
    out = notes + [yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100), "clauses:\n"]
    out += _clause_yaml(draft.clauses)
    return "".join(out)


def _clause_yaml(clauses: list[DraftClause]) -> list[str]:
    out = []
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
    return out
