"""A policy draft under review: from an uploaded document to reviewed YAML in the knowledge
directory, for the lead's authoring view (adapters/authoring_api.py is its HTTP side).

The draft is data, not text: the clauses `ingest` read, the `about` phrasings the lead has
given (the live version's carried over, as `kb diff --carry-over` does, reworded clauses
marked for review), the title and dates. `policy_yaml` renders it as the file `ingest` would
write, plus the phrasings; `validate` loads it exactly as `policybot kb check` would, in a
scratch copy of the school's part of the knowledge directory, so a draft that would break
the live knowledge is refused with file:line before anything is written; `accept` writes it
(the replaced files kept under `.replaced/`), and the server's reload does the rest.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .diff import (ADDED, REMOVED, REWORDED, diff_policies, policy_from_data, read_policy_file,
                   report_json)
from .ingest import DraftClause, read_draft
from .load import SLUG, Contact, KnowledgeBase, KnowledgeError, Problem, load_knowledge
from .school_file import check_fields, school_yaml
from .yamlio import YamlError, load_yaml, load_yaml_text

METADATA = ("title", "adopted", "reviewed", "next_review")
MAX_PHRASES, MAX_PHRASE_CHARS = 20, 200
REPLACED_DIR = ".replaced"  # hidden: the reload watcher and the loader ignore it


class DraftError(ValueError):
    """A request about a draft that cannot be met; the message is fit to show the lead."""


@dataclass(frozen=True)
class NewSchool:
    """The school file's fields for a school the knowledge base does not have yet (`school add`'s)."""

    name: str
    lead: Contact
    deputy: Contact


@dataclass
class PolicyDraft:
    school: str
    policy_id: str
    filename: str
    metadata: dict[str, str]
    clauses: list[DraftClause]
    source_text: str
    source: str                 # the policy's `source:` path, relative to the knowledge directory
    excluded: list[dict]
    skipped: list[str]
    about: dict[str, list[str]] = field(default_factory=dict)
    stance: dict[str, str] = field(default_factory=dict)   # carried-over overrides
    review: dict[str, str] = field(default_factory=dict)   # clause id -> why to look again
    new_school: NewSchool | None = None
    revision: int = 0

    @property
    def policy_path(self) -> str:
        return f"policies/{self.school}/{self.policy_id}.yaml"

    @property
    def school_path(self) -> str:
        return f"schools/{self.school}.yaml"


def draft_to_dict(draft: PolicyDraft) -> dict:
    """The draft as plain JSON-able data, so it can be stored (and survive a restart, and reach
    every worker process); draft_from_dict reads it back."""
    return asdict(draft)


def draft_from_dict(data: dict) -> PolicyDraft:
    """A draft stored by draft_to_dict; DraftError when the data is not one."""
    try:
        fields = dict(data)
        fields["clauses"] = [DraftClause(**c) for c in fields["clauses"]]
        school = fields.get("new_school")
        if school is not None:
            fields["new_school"] = NewSchool(school["name"], Contact(**school["lead"]), Contact(**school["deputy"]))
        return PolicyDraft(**fields)
    except (KeyError, TypeError) as exc:
        raise DraftError(f"a stored draft could not be read ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- starting a draft


def _live_policy_file(root: Path, school: str, policy_id: str) -> Path | None:
    path = root / "policies" / school / f"{policy_id}.yaml"
    return path if path.is_file() else None


def _source_for(root: Path, school: str, policy_id: str, live: Path | None) -> str:
    """The live policy's own source file when it has one, else sources/SCHOOL.txt, unless another
    of the school's policies quotes that one."""
    if live is not None:
        try:
            raw = load_yaml(live)
            if isinstance(raw, dict) and isinstance(raw.get("source"), str) and raw["source"].strip():
                return raw["source"].strip()
        except (YamlError, OSError):
            pass
    plain = f"sources/{school}.txt"
    for other in (root / "policies" / school).glob("*.yaml"):
        if other.stem == policy_id:
            continue
        try:
            raw = load_yaml(other)
        except (YamlError, OSError):
            continue
        if isinstance(raw, dict) and str(raw.get("source") or "").strip() == plain:
            return f"sources/{school}-{policy_id}.txt"
    return plain


def check_target(kb: KnowledgeBase, root: Path, school: str, policy_id: str,
                 new_school: NewSchool | None) -> None:
    """Refuse, in words, a draft that could not go live as asked (before any document is read)."""
    if not SLUG.match(school or ""):
        raise DraftError(f"The school's short name {school!r} must be lower-case letters, digits and '-' "
                         "(e.g. st-marys).")
    if not SLUG.match(policy_id or ""):
        raise DraftError(f"The policy id {policy_id!r} must be lower-case letters, digits and '-' "
                         "(e.g. social-media-policy).")
    exists = school in kb.schools or (root / "schools" / f"{school}.yaml").exists()
    if exists and new_school is not None:
        raise DraftError(f"There is already a school {school!r}; choose it instead of adding a new one.")
    if not exists and new_school is None:
        raise DraftError(f"There is no school {school!r} yet: give its name, lead and deputy to add it.")
    if new_school is not None:
        problems = check_fields(school, new_school.name, new_school.lead, new_school.deputy)
        if problems:
            raise DraftError("; ".join(p[:1].upper() + p[1:] for p in problems) + ".")
    elif school in kb.schools and policy_id not in {p.id for p in kb.schools[school].policies}:
        known = ", ".join(p.id for p in kb.schools[school].policies)
        raise DraftError(f"{kb.schools[school].name} has no policy {policy_id!r} (it has: {known}). Choose one of "
                         "those to update it.")


def start_draft(document: Path, filename: str, root: Path, school: str, policy_id: str,
                new_school: NewSchool | None = None) -> PolicyDraft:
    """Read the document (documents.DocumentError when it cannot be) and carry the live version's
    phrasings over. `document` is where the upload was saved; `filename` is what the lead called it."""
    root = Path(root)
    read = read_draft(document)
    live = _live_policy_file(root, school, policy_id)
    meta = read.metadata
    excluded = read.excluded()
    draft = PolicyDraft(
        school=school, policy_id=policy_id, filename=filename,
        metadata={"title": meta.title, "adopted": meta.adopted, "reviewed": meta.reviewed,
                  "next_review": meta.next_review},
        clauses=list(read.clauses), source_text=read.source_text,
        source=_source_for(root, school, policy_id, live), excluded=excluded,
        skipped=[str(s) for s in read.skipped], new_school=new_school)
    if not draft.clauses:
        raise DraftError(f"{filename}: no clauses could be read from it. Is it the policy itself?")
    if live is not None:
        _carry_over(draft, live)
    return draft


def _carry_over(draft: PolicyDraft, live: Path) -> None:
    try:
        old = read_policy_file(live)
    except YamlError:
        return  # a live file that does not parse has no phrasings to give; the diff says so
    d = diff_policies(old, draft_version(draft))
    for c in d.changes:
        if c.kind in (ADDED, REMOVED):
            continue
        if c.old.about:
            draft.about[c.new.id] = list(c.old.about)
        if c.old.stance:
            draft.stance[c.new.id] = c.old.stance
        if c.kind == REWORDED and (c.old.about or c.old.stance):
            draft.review[c.new.id] = f"reworded since the live version ({c.old.id}): check the phrasings still fit"


# ---------------------------------------------------------------- editing


def clean_phrases(value: object) -> list[str]:
    """The lead's `about` phrasings: a list of short non-empty strings (DraftError otherwise)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DraftError("'about' must be a list of phrases (text).")
    phrases = list(dict.fromkeys(" ".join(v.split()) for v in value if v.strip()))
    if len(phrases) > MAX_PHRASES:
        raise DraftError(f"At most {MAX_PHRASES} phrasings per clause.")
    if any(len(p) > MAX_PHRASE_CHARS for p in phrases):
        raise DraftError(f"A phrasing may be at most {MAX_PHRASE_CHARS} characters.")
    return phrases


def edit(draft: PolicyDraft, about: dict | None = None, metadata: dict | None = None) -> None:
    """Apply the lead's edits, all or none: `about` {clause id: [phrases]}, `metadata` {field: text}."""
    ids = {c.id for c in draft.clauses}
    new_about = {}
    for cid, phrases in (about or {}).items():
        if cid not in ids:
            raise DraftError(f"The draft has no clause {cid!r}.")
        new_about[cid] = clean_phrases(phrases)
    new_meta = {}
    for key, value in (metadata or {}).items():
        if key not in METADATA:
            raise DraftError(f"{key!r} cannot be edited here (only {', '.join(METADATA)}).")
        if not isinstance(value, str) or len(value) > 200:
            raise DraftError(f"'{key}' must be text of at most 200 characters.")
        new_meta[key] = " ".join(value.split())
    for cid, phrases in new_about.items():
        draft.about[cid] = phrases
        draft.review.pop(cid, None)  # the lead has looked at it
    draft.metadata.update(new_meta)
    draft.revision += 1


# ---------------------------------------------------------------- rendering and checking


def policy_yaml(draft: PolicyDraft) -> str:
    """The policy file as it will be written: `ingest`'s draft with the reviewed phrasings."""
    head = {"id": draft.policy_id, "school": draft.school, **{k: draft.metadata.get(k, "") for k in METADATA},
            "associated_policies": [], "source": draft.source, "excluded": draft.excluded}
    out = [f"# From {' '.join(draft.filename.split())[:120]} by policybot's authoring view (`policybot ingest` "
           "read it), reviewed\n# by the lead. Left out of the clauses:\n"]
    out += [f"#   {' '.join(s.split())[:160]}\n" for s in draft.skipped] or ["#   nothing\n"]
    out += [yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100), "clauses:\n"]
    for c in draft.clauses:
        item: dict = {"id": c.id, "section": c.section}
        if c.lead_in:
            item["lead_in"] = c.lead_in
        item["text"] = c.text
        item["about"] = draft.about.get(c.id, [])
        if c.id in draft.stance:
            item["stance"] = draft.stance[c.id]
        notes = "; ".join(c.notes)
        out.append(f"  # source line {c.line}" + (f"; {notes}" if notes else "") + "\n")
        if c.id in draft.review:
            out.append(f"  # review: {draft.review[c.id]}\n")
        dumped = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=100)
        out.append("".join("  " + line + "\n" for line in dumped.splitlines()))
    return "".join(out)


def draft_version(draft: PolicyDraft):
    """The draft as kb diff reads a policy file."""
    path = Path("draft") / draft.policy_path
    return policy_from_data(load_yaml_text(policy_yaml(draft), path), str(path))


def diff_with_live(draft: PolicyDraft, root: Path) -> dict | None:
    """`kb diff --json` of the live version against the draft (None for a new policy)."""
    live = _live_policy_file(Path(root), draft.school, draft.policy_id)
    if live is None:
        return None
    try:
        old = read_policy_file(live)
    except YamlError as exc:
        return {"error": str(exc)}
    return report_json(diff_policies(old, draft_version(draft)))


def files(draft: PolicyDraft) -> dict[str, str]:
    """What accepting writes, relative to the knowledge directory, in the order it is written
    (the school file last, so nothing names a policy that is not there yet)."""
    out = {draft.source: draft.source_text, draft.policy_path: policy_yaml(draft)}
    if draft.new_school is not None:
        s = draft.new_school
        out[draft.school_path] = school_yaml(draft.school, s.name, s.lead, s.deputy, [draft.policy_id])
    return out


def validate(draft: PolicyDraft, root: Path) -> KnowledgeBase:
    """The school as it would load with the draft in place, checked as `policybot kb check`
    checks it (KnowledgeError, each problem as file:line naming the file the draft becomes).
    Only the school's own files and the synonyms are copied to the scratch directory."""
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="policybot-draft-") as tmp:
        scratch = Path(tmp) / root.name
        for rel in [draft.school_path, "synonyms.yaml", *_school_files(root, draft)]:
            if (root / rel).is_file():
                (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / rel, scratch / rel)
        for rel, text in files(draft).items():
            (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
            (scratch / rel).write_text(text, encoding="utf-8")
        kb = load_knowledge(scratch)
    if draft.school not in kb.schools:  # pragma: no cover - load_knowledge reports why first
        raise KnowledgeError([Problem(draft.school_path, 1, "the school did not load")])
    return kb


def _school_files(root: Path, draft: PolicyDraft) -> list[str]:
    """The school's other policies and every source file they quote."""
    out = []
    for path in sorted((root / "policies" / draft.school).glob("*.yaml")):
        out.append(f"policies/{draft.school}/{path.name}")
        try:
            raw = load_yaml(path)
        except (YamlError, OSError):
            continue
        if isinstance(raw, dict) and isinstance(raw.get("source"), str):
            out.append(raw["source"].strip())
    return out


def with_draft(live: KnowledgeBase, checked: KnowledgeBase, school: str) -> KnowledgeBase:
    """The live knowledge with one school replaced by its draft (for trying questions on it)."""
    return KnowledgeBase(root=live.root, schools={**live.schools, school: checked.schools[school]},
                         synonyms=live.synonyms,
                         school_synonyms={**live.school_synonyms, school: checked.school_synonyms.get(school, ())},
                         concerns=live.concerns)


def accept(draft: PolicyDraft, root: Path) -> list[str]:
    """Validate, keep the files it replaces under .replaced/TIME/, then write each file whole
    (a temporary file renamed over the old, so a reader never sees half a file). The paths written."""
    root = Path(root)
    validate(draft, root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    written = []
    for rel, text in files(draft).items():
        target = root / rel
        if target.is_file():
            backup = root / REPLACED_DIR / stamp / rel
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        written.append(rel)
    return written


def draft_json(draft: PolicyDraft, live: KnowledgeBase | None) -> dict:
    """What the authoring page shows: the draft's clauses beside the live ones."""
    live_clauses = []
    if live is not None and draft.school in live.schools:
        school = live.schools[draft.school]
        policy = next((p for p in school.policies if p.id == draft.policy_id), None)
        live_clauses = [{"id": c.id, "section": c.section, "lead_in": c.lead_in, "text": c.text,
                         "about": list(c.about)} for c in (policy.clauses if policy else ())]
    return {
        "school": draft.school, "policy_id": draft.policy_id, "filename": draft.filename,
        "new_school": draft.new_school.name if draft.new_school else None,
        "metadata": draft.metadata, "skipped": draft.skipped, "revision": draft.revision,
        "clauses": [{"id": c.id, "section": c.section, "lead_in": c.lead_in, "text": c.text, "line": c.line,
                     "notes": list(c.notes), "about": draft.about.get(c.id, []), "review": draft.review.get(c.id, "")}
                    for c in draft.clauses],
        "live": live_clauses,
    }


__all__ = ["DraftError", "METADATA", "NewSchool", "PolicyDraft", "accept", "check_target", "clean_phrases",
           "diff_with_live", "draft_json", "draft_version", "edit", "files", "policy_yaml", "start_draft",
           "validate", "with_draft"]
