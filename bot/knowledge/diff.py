"""What changed between two versions of a policy's clause YAML, so the lead reviews an update
before it goes live (`policybot kb diff OLD NEW`).

A school re-issues its policy every year or two; `policybot ingest` drafts the new version
from scratch, without the `about:` phrasings and `stance:` overrides reviewers added to the
live one. This module says which clauses were added, removed, reworded or renumbered, and
writes the new version with the phrasings of the clauses that survived carried over, the
reworded ones marked for a second look (their phrasings may no longer fit the new words).

Reading is kept apart from comparing: `read_policy_file` is the only function here that
touches the disk; `diff_policies`, `report_text`, `report_json` and `carry_over` are pure
functions of the loaded versions and the new file's text, so tests need no files.

Lead answers (knowledge/notes/) and the phrasings a lead approved (knowledge/phrasings/) live
beside the policy, not in it, so a new version leaves them as they are; the report says so, and
that `kb check` names a phrasing whose clause id the new version removed or renumbered.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..retrieval.text import collapse_ws
from .yamlio import LineMap, YamlError, load_yaml

# A clause whose id stayed the same is the same clause unless its text shares almost nothing
# with the old one (then the number was reused for something new: removed + added).
SAME_ID_MIN_RATIO = 0.3
# A clause whose id changed is only matched on its words, so they must be mostly the same.
MOVED_MIN_RATIO = 0.6

UNCHANGED, RENUMBERED, REWORDED, REMOVED, ADDED = "unchanged", "renumbered", "reworded", "removed", "added"
KINDS = (UNCHANGED, RENUMBERED, REWORDED, REMOVED, ADDED)
METADATA_KEYS = ("title", "adopted", "reviewed", "next_review")

LEAD_ANSWERS_NOTE = ("Lead answers (knowledge/notes/) and lead-approved phrasings (knowledge/phrasings/) are "
                     "kept apart from the policy and are not changed here; approved phrasings on clauses this "
                     "update rewords or removes are listed for review, and after the update kb check names any "
                     "whose clause id is gone.")


def review_comment(old_name: str) -> str:
    """The YAML comment put above a reworded clause in the carried-over file."""
    return f"# review: reworded since {old_name}; about phrasings carried over, check they still fit"


@dataclass(frozen=True)
class ClauseVersion:
    """One clause as written in one version of the file (text kept as written, and folded)."""

    id: str
    section: str
    text: str
    lead_in: str = ""
    about: tuple[str, ...] = ()
    stance: str = ""  # only an explicit `stance:` override; "" when the loader would classify
    line: int = 0
    index: int = 0  # position in the file, for tie-breaks and report order

    @property
    def folded(self) -> str:
        return collapse_ws(self.text)

    @property
    def folded_lead_in(self) -> str:
        return collapse_ws(self.lead_in)


@dataclass(frozen=True)
class PolicyVersion:
    """The parts of a policy file the diff compares."""

    path: str
    metadata: dict[str, str]
    clauses: tuple[ClauseVersion, ...]
    school: str = ""  # the `school:` the file names ('' in a draft without one)


@dataclass(frozen=True)
class WordOp:
    """One run of a word-level diff: 'equal', 'delete' (only in old) or 'insert' (only in new)."""

    op: str
    text: str


@dataclass(frozen=True)
class ClauseChange:
    """What happened to one clause. Exactly one kind per clause pair:

    unchanged (same id, same folded text and lead-in), renumbered (same words, new id),
    reworded (different words, same or new id: `renumbered` says which), removed, added."""

    kind: str
    old: ClauseVersion | None = None
    new: ClauseVersion | None = None
    similarity: float = 1.0
    text_diff: tuple[WordOp, ...] = ()
    lead_in_diff: tuple[WordOp, ...] = ()

    @property
    def renumbered(self) -> bool:
        return bool(self.old and self.new and self.old.id != self.new.id)

    @property
    def section_changed(self) -> bool:
        return bool(self.old and self.new and self.old.section != self.new.section)


@dataclass(frozen=True)
class PolicyDiff:
    old_path: str
    new_path: str
    changes: tuple[ClauseChange, ...]
    metadata: tuple[tuple[str, str, str], ...] = ()  # (key, old, new) for each field that differs

    def of_kind(self, kind: str) -> list[ClauseChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(self.of_kind(k)) for k in KINDS}

    @property
    def moved_sections(self) -> list[ClauseChange]:
        """Unchanged clauses whose section heading is now different (a heading renamed)."""
        return [c for c in self.of_kind(UNCHANGED) if c.section_changed]

    @property
    def has_changes(self) -> bool:
        return bool(self.metadata or self.moved_sections or any(c.kind != UNCHANGED for c in self.changes))

    @property
    def flagged(self) -> list[ClauseChange]:
        """Reworded clauses that carry phrasings or a stance over: a human must check they still fit."""
        return [c for c in self.of_kind(REWORDED) if c.old.about or c.old.stance]

    @property
    def dropped(self) -> list[ClauseChange]:
        """Removed clauses that had phrasings or a stance: these are not carried anywhere."""
        return [c for c in self.of_kind(REMOVED) if c.old.about or c.old.stance]


# ---------------------------------------------------------------- reading


def read_policy_file(path: Path) -> PolicyVersion:
    """Read one policy YAML file for comparison; YamlError (file:line) if it is not one.

    Looser than `load_knowledge`: a fresh `ingest` draft still has TODO dates and no school
    file, and must be comparable before it is fit to load. What the diff needs is checked:
    a mapping with a list of clauses, each with an id and text, ids unique."""
    path = Path(path)
    try:
        raw = load_yaml(path)
    except OSError as exc:
        raise YamlError(path, 1, f"cannot read: {exc.strerror or exc}") from None
    return policy_from_data(raw, str(path))


def policy_from_data(raw: Any, path: str) -> PolicyVersion:
    """A PolicyVersion from YAML already parsed with line numbers (yamlio.load_yaml)."""
    p = Path(path)
    if not isinstance(raw, LineMap):
        raise YamlError(p, getattr(raw, "line", 1), "not a policy file: expected a mapping with clauses:")
    items = raw.get("clauses")
    if not isinstance(items, list) or not items:
        raise YamlError(p, raw.line_of("clauses"), "not a policy file: 'clauses' must be a non-empty list")
    clauses, seen = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, LineMap):
            raise YamlError(p, getattr(item, "line", raw.line_of("clauses")), "clause must be a mapping")
        cid, text = item.get("id"), item.get("text")
        if cid is None or not str(cid).strip():
            raise YamlError(p, item.line, "clause has no id")
        cid = str(cid).strip()
        if cid in seen:
            raise YamlError(p, item.line_of("id"), f"duplicate clause id {cid!r} (first on line {seen[cid]})")
        seen[cid] = item.line_of("id")
        if not isinstance(text, (str, int, float)) or not str(text).strip():
            raise YamlError(p, item.line_of("text"), f"clause {cid}: 'text' is missing or empty")
        about = item.get("about") or []
        if not isinstance(about, list) or not all(isinstance(a, (str, int, float)) for a in about):
            raise YamlError(p, item.line_of("about"), f"clause {cid}: 'about' must be a list of phrases")
        clauses.append(ClauseVersion(
            id=cid, section=str(item.get("section") or "").strip(), text=str(text),
            lead_in=str(item.get("lead_in") or ""), about=tuple(str(a).strip() for a in about if str(a).strip()),
            stance=str(item.get("stance") or "").strip(), line=item.line, index=index))
    metadata = {k: str(raw.get(k) or "").strip() for k in METADATA_KEYS}
    return PolicyVersion(path=path, metadata=metadata, clauses=tuple(clauses), school=str(raw.get("school") or "").strip())


# ---------------------------------------------------------------- comparing


def _words(text: str) -> list[str]:
    """Words for similarity: case, punctuation and markdown emphasis do not make a clause new."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", collapse_ws(text).lower())


def similarity(a: str, b: str) -> float:
    """difflib's ratio over the two texts' normalised words (1.0: the same words in order)."""
    wa, wb = _words(a), _words(b)
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def word_diff(old: str, new: str) -> tuple[WordOp, ...]:
    """A word-level diff of two texts as written (whitespace folded), for the reviewer to read."""
    a, b = collapse_ws(old).split(" "), collapse_ws(new).split(" ")
    ops: list[WordOp] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(WordOp("equal", " ".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            ops.append(WordOp("delete", " ".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append(WordOp("insert", " ".join(b[j1:j2])))
    return tuple(ops)


def _same_words(o: ClauseVersion, n: ClauseVersion) -> bool:
    # A bullet's lead-in is part of what it says ("Staff must:" -> "Staff must not:").
    return o.folded == n.folded and o.folded_lead_in == n.folded_lead_in


def _pair_ratio(o: ClauseVersion, n: ClauseVersion) -> float:
    ratio = similarity(o.text, n.text)
    if o.folded_lead_in != n.folded_lead_in and (o.lead_in or n.lead_in):
        ratio = min(ratio, 0.999)  # never "the same words" when the lead-in changed
    return ratio


def diff_policies(old: PolicyVersion, new: PolicyVersion) -> PolicyDiff:
    """Match the clauses of two versions and classify each pair.

    Order of matching, each pass on what earlier passes left:
    1. same id and same words: unchanged;
    2. same words under another id: renumbered (identical words are stronger evidence than a
       number, which shifts whenever a clause is inserted above);
    3. same id, words at least SAME_ID_MIN_RATIO alike: reworded;
    4. another id, words at least MOVED_MIN_RATIO alike, best pairs first: reworded and renumbered.
    What is left is removed (old) or added (new)."""
    pairs: dict[int, tuple[int, float]] = {}  # old index -> (new index, ratio)
    free_old = {c.index: c for c in old.clauses}
    free_new = {c.index: c for c in new.clauses}
    new_by_id = {c.id: c for c in new.clauses}

    def take(o: ClauseVersion, n: ClauseVersion, ratio: float) -> None:
        pairs[o.index] = (n.index, ratio)
        del free_old[o.index], free_new[n.index]

    for o in list(free_old.values()):
        n = new_by_id.get(o.id)
        if n is not None and _same_words(o, n):
            take(o, n, 1.0)
    for o in list(free_old.values()):
        same = [n for n in free_new.values() if _same_words(o, n)]
        if same:
            take(o, min(same, key=lambda n: (n.section != o.section, abs(n.index - o.index))), 1.0)
    for o in list(free_old.values()):
        n = new_by_id.get(o.id)
        if n is not None and n.index in free_new:
            ratio = _pair_ratio(o, n)
            if ratio >= SAME_ID_MIN_RATIO:
                take(o, n, ratio)
    candidates = []
    for o in free_old.values():
        for n in free_new.values():
            sm = difflib.SequenceMatcher(None, _words(o.text), _words(n.text), autojunk=False)
            if sm.real_quick_ratio() < MOVED_MIN_RATIO or sm.quick_ratio() < MOVED_MIN_RATIO:
                continue
            ratio = _pair_ratio(o, n)
            if ratio >= MOVED_MIN_RATIO:
                candidates.append((-ratio, o.section != n.section, abs(o.index - n.index), o.index, n.index))
    for neg_ratio, _, _, oi, ni in sorted(candidates):
        if oi in free_old and ni in free_new:
            take(free_old[oi], free_new[ni], -neg_ratio)

    changes: list[ClauseChange] = []
    old_by_index = {c.index: c for c in old.clauses}
    matched_new = {ni: oi for oi, (ni, _) in pairs.items()}
    for n in new.clauses:  # in the new file's order, removed clauses where they used to be
        if n.index in matched_new:
            o = old_by_index[matched_new[n.index]]
            ratio = pairs[o.index][1]
            if _same_words(o, n):
                kind = UNCHANGED if o.id == n.id else RENUMBERED
                changes.append(ClauseChange(kind, o, n, 1.0))
            else:
                changes.append(ClauseChange(REWORDED, o, n, ratio, word_diff(o.text, n.text),
                                            word_diff(o.lead_in, n.lead_in) if o.folded_lead_in != n.folded_lead_in
                                            else ()))
        else:
            changes.append(ClauseChange(ADDED, None, n, 0.0))
    for o in old.clauses:
        if o.index not in pairs:
            changes.append(ClauseChange(REMOVED, o, None, 0.0))
    metadata = tuple((k, old.metadata.get(k, ""), new.metadata.get(k, "")) for k in METADATA_KEYS
                     if old.metadata.get(k, "") != new.metadata.get(k, ""))
    return PolicyDiff(old.path, new.path, tuple(changes), metadata)


# ---------------------------------------------------------------- reporting


def render_word_diff(ops: tuple[WordOp, ...]) -> str:
    """`[-old words-]{+new words+}`, as `git diff --word-diff=plain` writes it."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return " ".join(marks[op.op].format(op.text) for op in ops if op.text)


def _ids(c: ClauseChange) -> str:
    if c.old and c.new and c.renumbered:
        return f"{c.old.id} -> {c.new.id}"
    return (c.new or c.old).id


def _section(c: ClauseChange) -> str:
    if c.section_changed:
        return f"section {c.old.section!r} -> {c.new.section!r}"
    return f"section {(c.new or c.old).section!r}"


def report_text(d: PolicyDiff, carried_to: str | None = None, approved: list[tuple[str, str]] = ()) -> str:
    """The readable report: counts, then each change with ids, section and the words."""
    n = d.counts
    out = [f"kb diff: {d.old_path} -> {d.new_path}", f"note: {LEAD_ANSWERS_NOTE}",
           f"{n[UNCHANGED] + n[RENUMBERED] + n[REWORDED] + n[REMOVED]} clauses before, "
           f"{n[UNCHANGED] + n[RENUMBERED] + n[REWORDED] + n[ADDED]} after: "
           + ", ".join(f"{n[k]} {k}" for k in KINDS)]
    if not d.has_changes:
        out.append("no changes")
    for key, a, b in d.metadata:
        out.append(f"metadata {key}: {a!r} -> {b!r}")
    for c in d.moved_sections:
        out.append(f"section renamed  {_ids(c)}: {_section(c)}")
    for c in d.changes:
        if c.kind == UNCHANGED:
            continue
        head = f"\n{c.kind:<10} {_ids(c)} ({_section(c)})"
        if c.kind == REWORDED:
            head += (", the same words: only punctuation, case or emphasis changed" if c.similarity >= 0.995
                     else f", {c.similarity:.0%} the same words")
        out.append(head)
        if c.kind == REWORDED:
            if c.lead_in_diff:
                out.append(f"    lead-in: {render_word_diff(c.lead_in_diff)}")
            out.append(f"    {render_word_diff(c.text_diff)}")
        elif c.kind in (ADDED, REMOVED):
            clause = c.new or c.old
            if clause.lead_in:
                out.append(f"    lead-in: {collapse_ws(clause.lead_in)}")
            out.append(f"    {clause.folded}")
    verb = f"in {carried_to}" if carried_to else "if carried over (--carry-over OUT)"
    if d.flagged:
        out.append(f"\nflagged for review {verb}: reworded clauses whose phrasings were carried over")
        for c in d.flagged:
            out += _phrasings(c)
    if d.dropped:
        out.append(f"\ndropped {verb}: phrasings of removed clauses, not carried over")
        for c in d.dropped:
            out += _phrasings(c)
    review = approved_to_review(d, list(approved))
    if review:
        out.append("\nlead-approved phrasings (knowledge/phrasings/) on clauses this update rewords or removes: "
                   "check each still fits, or move it to the new clause")
        out += [f"  {cid} ({kind}): {about}" for kind, cid, about in review]
    if carried_to:
        carried = [c for c in d.changes if c.kind in (UNCHANGED, RENUMBERED, REWORDED) and (c.old.about or c.old.stance)]
        out.append(f"\nwrote {carried_to}: phrasings carried over for {len(carried)} clause(s), "
                   f"{len(d.flagged)} flagged for review")
    return "\n".join(out) + "\n"


def approved_to_review(d: PolicyDiff, approved: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(kind, clause id, phrasing) for each lead-approved phrasing (knowledge/phrasings/, given as
    (clause id, phrasing)) whose clause this update rewords or removes: the lead checks it still fits,
    or moves it, before the update goes live."""
    changed = {c.old.id: c.kind for c in d.changes if c.old is not None and c.kind in (REWORDED, REMOVED)}
    return [(changed[cid], cid, about) for cid, about in approved if cid in changed]


def _phrasings(c: ClauseChange) -> list[str]:
    lines = [f"  {_ids(c)} ({_section(c)})"]
    lines += [f"    about: {a}" for a in c.old.about]
    if c.old.stance:
        lines.append(f"    stance: {c.old.stance}")
    return lines


def _clause_json(c: ClauseVersion | None) -> dict | None:
    if c is None:
        return None
    return {"id": c.id, "section": c.section, "lead_in": collapse_ws(c.lead_in), "text": c.folded,
            "about": list(c.about), "stance": c.stance or None, "line": c.line}


def report_json(d: PolicyDiff, carried_to: str | None = None, approved: list[tuple[str, str]] = ()) -> dict:
    """The same report for machines (`--json`)."""
    return {
        "old": d.old_path, "new": d.new_path, "changed": d.has_changes, "counts": d.counts,
        "lead_answers": LEAD_ANSWERS_NOTE,
        "metadata": [{"field": k, "old": a, "new": b} for k, a, b in d.metadata],
        "changes": [{
            "kind": c.kind, "old_id": c.old.id if c.old else None, "new_id": c.new.id if c.new else None,
            "renumbered": c.renumbered, "section_changed": c.section_changed,
            "similarity": round(c.similarity, 3),
            "word_diff": [{"op": op.op, "text": op.text} for op in c.text_diff],
            "lead_in_diff": [{"op": op.op, "text": op.text} for op in c.lead_in_diff],
            "old": _clause_json(c.old), "new": _clause_json(c.new),
        } for c in d.changes if c.kind != UNCHANGED or c.section_changed],
        "flagged_for_review": [_ids(c) for c in d.flagged],
        "dropped": [{"id": c.old.id, "about": list(c.old.about), "stance": c.old.stance or None} for c in d.dropped],
        "carried_over_to": carried_to,
        "approved_phrasings_to_review": [{"kind": kind, "clause": cid, "about": about}
                                         for kind, cid, about in approved_to_review(d, list(approved))],
    }


# ---------------------------------------------------------------- carrying over


class _Indented(yaml.SafeDumper):
    """Lists indented under their key, as the bundled knowledge files are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: ARG002
        return super().increase_indent(flow, False)


def _block(key: str, value: Any, column: int) -> str:
    dumped = yaml.dump({key: value}, Dumper=_Indented, sort_keys=False, allow_unicode=True, width=100)
    return "".join((" " * column if i else "") + line + "\n" for i, line in enumerate(dumped.splitlines()))


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _node_end(node: yaml.Node) -> int:
    """Where a value's own text ends: a block list's end mark runs on to the next key."""
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1])
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1][1])
    return node.end_mark.index


def carry_over(d: PolicyDiff, new_text: str, old_name: str) -> str:
    """NEW's text with OLD's `about` phrasings (and `stance` overrides) put on the clauses that
    survived: unchanged, renumbered and reworded ones, the reworded marked with a review comment.

    The file is edited in place rather than re-dumped, so everything else in it (the draft's
    `# source line N` comments and doubts, metadata, formatting) is kept for the reviewer.
    Phrasings NEW already has are kept after OLD's; a stance NEW sets itself wins."""
    root = yaml.compose(new_text, Loader=yaml.SafeLoader)
    clause_nodes = next(v for k, v in root.value if k.value == "clauses").value
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in new_text
    for c in d.changes:
        if c.kind not in (UNCHANGED, RENUMBERED, REWORDED) or not (c.old.about or c.old.stance):
            continue
        node = clause_nodes[c.new.index]
        if node.flow_style:
            raise CarryOverError(f"clause {c.new.id} (line {c.new.line}) is written as a {{...}} flow mapping; "
                                 "write it as a block mapping to carry phrasings into it")
        keys = {k.value: (k, v) for k, v in node.value}
        column = node.value[0][0].start_mark.column
        about = list(dict.fromkeys(c.old.about + c.new.about))
        if c.old.about and about != list(c.new.about):
            if "about" in keys:
                k, v = keys["about"]
                edits.append((k.start_mark.index, _line_end(new_text, _node_end(v)), _block("about", about, column)))
            else:
                end = _line_end(new_text, max(_node_end(v) for _, v in node.value))
                edits.append((end, end, " " * column + _block("about", about, column)))
        if c.old.stance and "stance" not in keys:
            end = _line_end(new_text, max(_node_end(v) for _, v in node.value))
            edits.append((end, end, " " * column + _block("stance", c.old.stance, column)))
        if c.kind == REWORDED:
            start = _line_start(new_text, node.start_mark.index)
            indent = re.match(r"[ \t]*", new_text[start:]).group(0)
            edits.append((start, start, indent + review_comment(old_name) + "\n"))
    out = new_text
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + replacement + out[end:]
    _verify(d, out)
    return out


class CarryOverError(ValueError):
    """NEW is written in a way the in-place edit cannot handle; nothing was written."""


def _verify(d: PolicyDiff, out: str) -> None:
    """The edited text must parse and hold exactly the intended phrasings: a text edit of YAML
    that went wrong must fail here, not reach the knowledge base."""
    data = yaml.safe_load(out)
    clauses = data["clauses"]
    for c in d.changes:
        if c.new is None:
            continue
        got = [str(a).strip() for a in clauses[c.new.index].get("about") or []]
        want = list(c.new.about)
        if c.old is not None and c.old.about:
            want = list(dict.fromkeys(c.old.about + c.new.about))
        if got != want or str(clauses[c.new.index].get("id")) != c.new.id:
            raise CarryOverError(f"clause {c.new.id}: carrying over went wrong (about {got!r}, expected {want!r})")


__all__ = ["ADDED", "KINDS", "LEAD_ANSWERS_NOTE", "REMOVED", "RENUMBERED", "REWORDED", "UNCHANGED",
           "CarryOverError", "ClauseChange", "ClauseVersion", "PolicyDiff", "PolicyVersion", "WordOp", "carry_over",
           "diff_policies", "policy_from_data", "read_policy_file", "render_word_diff", "report_json",
           "report_text", "review_comment", "similarity", "word_diff"]
