"""The clause knowledge base: schools, their policies and clauses, and the synonym list.

Loaded and validated once, as a whole; a broken file stops the load with every problem
found, each naming file and line, so an author can fix them in one pass. The loaded
objects are immutable, so a reload swaps the whole base without readers seeing a mix.
"""
from __future__ import annotations

import calendar
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from ..decide import stance as stance_mod
from ..retrieval.text import collapse_ws
from .concerns import EMPTY_BANK, ConcernBank, load_concern_bank
from . import notes as notes_mod
from .notes import LEAD_ANSWER, NOTES_POLICY_ID, NOTES_SECTION, NOTES_TITLE, POLICY
from .yamlio import LineMap, YamlError, load_yaml
from .parsed_cache import ParsedCache, Prefetch

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CLAUSE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-()]*$")


@dataclass(frozen=True)
class Contact:
    """Someone a question can be routed to; the contact ids are filled per deployment."""

    role: str
    name: str = ""
    email: str = ""
    slack_user_id: str = ""
    teams_user_id: str = ""

    @property
    def display(self) -> str:
        """'Mr W Holder (Online Safety Co-ordinator)', or just the role when no name is set."""
        return f"{self.name} ({self.role})" if self.name else f"the {self.role}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "email": self.email,
                "slack_user_id": self.slack_user_id, "teams_user_id": self.teams_user_id}

    @classmethod
    def from_dict(cls, d: dict) -> "Contact":
        return cls(**{k: d.get(k, "") or "" for k in ("role", "name", "email", "slack_user_id", "teams_user_id")})

    def address(self, channel: str) -> str:
        """This contact's address on a channel ('' when they have none there)."""
        return {"email": self.email, "slack": self.slack_user_id, "teams": self.teams_user_id}.get(channel, "")


@dataclass(frozen=True)
class Clause:
    id: str
    school: str
    policy_id: str
    section: str
    text: str
    lead_in: str = ""
    about: tuple[str, ...] = ()
    stance: str = stance_mod.INFORMATION
    file: str = ""
    line: int = 0
    source: str = POLICY  # POLICY, or LEAD_ANSWER for a lead's reviewed note (knowledge/notes/)
    author: str = ""      # a note's author as shown: "Ms A Lead (Online Safety Lead)"
    date: str = ""        # a note's date, YYYY-MM-DD

    @property
    def is_note(self) -> bool:
        return self.source == LEAD_ANSWER


@dataclass(frozen=True)
class Policy:
    id: str
    school: str
    title: str
    next_review: str
    next_review_by: date
    adopted: str = ""
    reviewed: str = ""
    associated: tuple[str, ...] = ()
    source: str = ""
    clauses: tuple[Clause, ...] = ()
    excluded: tuple[tuple[int, int, str], ...] = ()

    def overdue(self, today: date) -> bool:
        return today > self.next_review_by


@dataclass(frozen=True)
class School:
    slug: str
    name: str
    lead: Contact
    deputy: Contact
    policies: tuple[Policy, ...]
    notes: tuple[Clause, ...] = ()  # the lead's reviewed answers (knowledge/notes/<slug>.yaml)

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """Every clause retrieval searches: the policies' and the lead's notes."""
        return tuple(c for p in self.policies for c in p.clauses) + self.notes

    def policy(self, policy_id: str) -> Policy:
        """A policy by id; notes' id gives a stand-in "policy" (never overdue, not listed in
        `policies`), so code that names a clause's policy names a note's origin too."""
        if policy_id == NOTES_POLICY_ID:
            return Policy(NOTES_POLICY_ID, self.slug, NOTES_TITLE, "", date.max, clauses=self.notes)
        return next(p for p in self.policies if p.id == policy_id)


@dataclass(frozen=True)
class SynonymGroup:
    """Staff phrasings that should also search for the policy's own words."""

    staff: tuple[str, ...]
    policy: tuple[str, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    root: Path
    schools: dict[str, School]
    synonyms: tuple[SynonymGroup, ...] = ()
    school_synonyms: dict[str, tuple[SynonymGroup, ...]] = field(default_factory=dict)
    concerns: ConcernBank = EMPTY_BANK  # the concern detector's exemplars (knowledge/concerns/)

    def school(self, slug: str) -> School:
        try:
            return self.schools[slug]
        except KeyError:
            raise UnknownSchool(slug, sorted(self.schools)) from None

    def synonyms_for(self, slug: str) -> tuple[SynonymGroup, ...]:
        return self.synonyms + self.school_synonyms.get(slug, ())


class UnknownSchool(LookupError):
    def __init__(self, slug: str, known: list[str]):
        super().__init__(f"unknown school {slug!r}; known schools: {', '.join(known)}")
        self.slug = slug


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class KnowledgeError(Exception):
    """Every problem found in a knowledge directory, so they can all be fixed at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------- loading


_SCHOOL_KEYS = {"slug", "name", "lead", "deputy", "policies", "synonyms"}
_CONTACT_KEYS = {"name", "role", "email", "slack_user_id", "teams_user_id"}
_POLICY_KEYS = {"id", "school", "title", "adopted", "reviewed", "next_review", "next_review_by",
                "associated_policies", "source", "excluded", "clauses"}
_CLAUSE_KEYS = {"id", "section", "lead_in", "text", "about", "stance"}


class _Collector:
    """Gathers problems with file and line while the loader keeps going."""

    def __init__(self, root: Path, cache: ParsedCache | None = None):
        self.root = root
        self.cache = cache
        self.problems: list[Problem] = []
        self._rel: dict[Path, str] = {}

    def rel(self, path: Path) -> str:
        got = self._rel.get(path)
        if got is None:
            try:
                got = str(path.relative_to(self.root.parent))
            except ValueError:
                got = str(path)
            self._rel[path] = got
        return got

    def add(self, path: Path, line: int, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def load(self, path: Path) -> Any:
        try:
            return load_yaml(path, self.cache)
        except YamlError as exc:
            self.add(path, exc.line, exc.message)
            return None
        except OSError as exc:
            self.add(path, 1, f"cannot read: {exc.strerror}")
            return None

    def mapping(self, path: Path, value: Any, what: str, keys: set[str], line: int = 1) -> LineMap | None:
        if not isinstance(value, LineMap):
            self.add(path, getattr(value, "line", line), f"{what} must be a mapping")
            return None
        for key in value:
            if key not in keys and key != "__line__":
                self.add(path, value.line_of(key), f"unknown field {key!r} in {what} (allowed: {', '.join(sorted(keys))})")
        return value

    def text(self, path: Path, node: LineMap, key: str, what: str, required: bool = True) -> str:
        value = node.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(path, node.line_of(key), f"{what}: '{key}' is missing or empty")
            return ""
        if not isinstance(value, (str, int, float)):
            self.add(path, node.line_of(key), f"{what}: '{key}' must be text")
            return ""
        return str(value).strip() if key != "text" else str(value)

    def strings(self, path: Path, node: LineMap, key: str, what: str) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            return ()
        if isinstance(value, list) and any(isinstance(v, bool) for v in value):
            self.add(path, node.line_of(key), f"{what}: '{key}' has a word YAML reads as true/false "
                     "(yes, no, on, off, true, false): put it in quotes")
            return ()
        # Numbers are phrases too ("18", "19"): YAML reads them unquoted as int.
        if not isinstance(value, list) or not all(
                (isinstance(v, str) and v.strip()) or (isinstance(v, (int, float)) and not isinstance(v, bool))
                for v in value):
            self.add(path, node.line_of(key), f"{what}: '{key}' must be a list of non-empty strings")
            return ()
        # Interned: schools of one trust share phrasings word for word, held once in memory.
        return tuple(sys.intern(str(v).strip()) for v in value)


def parse_review_date(text: str) -> date | None:
    """The last day a written review date can mean: '19.01.2023', 'September 2025', 'Autumn 2026',
    'Term 6 2020/21', '2026-12-31'. The end of the period, so a policy is only flagged once
    it is certainly overdue."""
    t = " ".join(str(text).replace("\u2013", "-").split()).lower()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", t):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", t):
        return date(int(m[3]), int(m[2]), int(m[1]))
    months = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
    if m := re.fullmatch(r"([a-z]+) (\d{4})", t):
        if m[1] in months:
            year, month = int(m[2]), months[m[1]]
            return date(year, month, calendar.monthrange(year, month)[1])
        term_end = {"autumn": (12, 31), "spring": (4, 30), "summer": (8, 31)}
        if m[1] in term_end:
            mo, d = term_end[m[1]]
            return date(int(m[2]), mo, d)
    if m := re.fullmatch(r"term (\d) -? ?(\d{4})/(\d{2})", t):
        # Six-term year starting in September: terms 1-2 in the first calendar year.
        term, start = int(m[1]), int(m[2])
        ends = {1: (start, 10, 31), 2: (start, 12, 31), 3: (start + 1, 2, 28),
                4: (start + 1, 4, 30), 5: (start + 1, 5, 31), 6: (start + 1, 7, 31)}
        if term in ends:
            y, mo, d = ends[term]
            return date(y, mo, d)
    return None


def _load_contact(c: _Collector, path: Path, school: LineMap, key: str) -> Contact | None:
    raw = school.get(key)
    if raw is None:
        c.add(path, school.line, f"school has no {key} (every school needs a named {key} to route questions to)")
        return None
    node = c.mapping(path, raw, key, _CONTACT_KEYS, school.line_of(key))
    if node is None:
        return None
    role = c.text(path, node, "role", key)
    fields = {k: c.text(path, node, k, key, required=False) for k in _CONTACT_KEYS - {"role"}}
    return Contact(role=role, **fields) if role else None


def _load_synonyms(c: _Collector, path: Path, raw: Any) -> tuple[SynonymGroup, ...]:
    if raw is None:
        return ()
    if isinstance(raw, LineMap):
        raw = raw.get("groups")
    if not isinstance(raw, list):
        c.add(path, getattr(raw, "line", 1), "synonyms must be a list of {staff: [...], policy: [...]} groups")
        return ()
    groups = []
    for item in raw:
        node = c.mapping(path, item, "synonym group", {"staff", "policy", "note"})
        if node is None:
            continue
        staff, policy = c.strings(path, node, "staff", "synonym group"), c.strings(path, node, "policy", "synonym group")
        if not staff or not policy:
            c.add(path, node.line, "synonym group needs non-empty 'staff' and 'policy' lists")
            continue
        groups.append(SynonymGroup(staff, policy))
    return tuple(groups)


def _load_policy(c: _Collector, path: Path, slug: str, known: set[str]) -> Policy | None:
    raw = c.load(path)
    if raw is None:
        return None
    node = c.mapping(path, raw, "policy file", _POLICY_KEYS)
    if node is None:
        return None
    school = c.text(path, node, "school", "policy")
    if school and school not in known:
        c.add(path, node.line_of("school"), f"unknown school {school!r} (known: {', '.join(sorted(known))})")
    elif school and school != slug:
        c.add(path, node.line_of("school"), f"policy says school {school!r} but sits under schools/{slug}")
    for key in ("title", "adopted", "reviewed", "next_review"):
        if str(node.get(key) or "").strip().upper().startswith("TODO"):
            c.add(path, node.line_of(key), f"policy: '{key}' is still the draft's TODO")
    pid, title = c.text(path, node, "id", "policy"), c.text(path, node, "title", "policy")
    if pid and pid != path.stem:
        c.add(path, node.line_of("id"), f"policy id {pid!r} must match the file name {path.stem!r}")
    next_review = c.text(path, node, "next_review", "policy")
    by_text = c.text(path, node, "next_review_by", "policy", required=False) or next_review
    by = parse_review_date(by_text) if by_text else None
    if next_review and by is None:
        c.add(path, node.line_of("next_review_by" if "next_review_by" in node else "next_review"),
              f"cannot read review date {by_text!r}; give next_review_by as YYYY-MM-DD")
    source = c.text(path, node, "source", "policy", required=False)
    source_text = None
    if source:
        try:
            source_text = collapse_ws((c.root / source).read_text(encoding="utf-8"))
        except OSError:
            c.add(path, node.line_of("source"), f"source file {source!r} not found under {c.rel(c.root)}")
    excluded = []
    for item in node.get("excluded") or []:
        if isinstance(item, LineMap) and isinstance(item.get("lines"), str) and re.fullmatch(r"\d+-\d+", item["lines"]):
            a, b = (int(x) for x in item["lines"].split("-"))
            excluded.append((a, b, str(item.get("why", ""))))
        else:
            c.add(path, getattr(item, "line", node.line_of("excluded")),
                  "excluded entries need lines: 'FIRST-LAST' and why: '...'")
    clauses_raw = node.get("clauses")
    if not isinstance(clauses_raw, list) or not clauses_raw:
        c.add(path, node.line_of("clauses"), "policy has no clauses")
        clauses_raw = []
    clauses, seen = [], {}
    for item in clauses_raw:
        clause = _load_clause(c, path, item, slug, pid, source_text, seen)
        if clause:
            clauses.append(clause)
    if not (pid and title and school and by):
        return None
    return Policy(id=pid, school=slug, title=title, next_review=next_review, next_review_by=by,
                  adopted=c.text(path, node, "adopted", "policy", required=False),
                  reviewed=c.text(path, node, "reviewed", "policy", required=False),
                  associated=c.strings(path, node, "associated_policies", "policy"),
                  source=source, clauses=tuple(clauses), excluded=tuple(excluded))


def _load_clause(c: _Collector, path: Path, item: Any, slug: str, pid: str,
                 source_text: str | None, seen: dict[str, int]) -> Clause | None:
    node = c.mapping(path, item, "clause", _CLAUSE_KEYS)
    if node is None:
        return None
    cid = c.text(path, node, "id", "clause")
    where = f"clause {cid}" if cid else "clause"
    text = c.text(path, node, "text", where)
    if cid:
        if not CLAUSE_ID.match(cid):
            c.add(path, node.line_of("id"), f"clause id {cid!r} may hold only letters, digits, '.', '-', '(' and ')'")
        if cid in seen:
            c.add(path, node.line_of("id"), f"duplicate clause id {cid!r} (first on line {seen[cid]})")
        else:
            seen[cid] = node.line_of("id")
    lead_in = c.text(path, node, "lead_in", where, required=False)
    flat_text, flat_lead_in = collapse_ws(text), collapse_ws(lead_in)
    if source_text is not None:
        for key, value in (("text", flat_text), ("lead_in", flat_lead_in)):
            if value and value not in source_text:
                c.add(path, node.line_of(key), f"{where}: {key} is not verbatim in the source policy")
    declared = c.text(path, node, "stance", where, required=False)
    if declared and declared not in stance_mod.STANCES:
        c.add(path, node.line_of("stance"), f"{where}: unknown stance {declared!r} (one of: {', '.join(stance_mod.STANCES)})")
    section = c.text(path, node, "section", where)
    if not (cid and text and section):
        return None
    return Clause(id=cid, school=slug, policy_id=pid, section=section, text=flat_text, lead_in=flat_lead_in,
                  about=c.strings(path, node, "about", where),
                  stance=declared or stance_mod.classify(text, lead_in), file=c.rel(path), line=node.line)


def _load_school(c: _Collector, path: Path, known: set[str]) -> tuple[School | None, tuple[SynonymGroup, ...]]:
    raw = c.load(path)
    if raw is None:
        return None, ()
    node = c.mapping(path, raw, "school file", _SCHOOL_KEYS)
    if node is None:
        return None, ()
    slug = c.text(path, node, "slug", "school")
    if slug and slug != path.stem:
        c.add(path, node.line_of("slug"), f"school slug {slug!r} must match the file name {path.stem!r}")
    name = c.text(path, node, "name", "school")
    lead = _load_contact(c, path, node, "lead")
    deputy = _load_contact(c, path, node, "deputy")
    policy_ids = c.strings(path, node, "policies", "school")
    if not policy_ids:
        c.add(path, node.line_of("policies"), "school lists no policies")
    policies = []
    for pid in policy_ids:
        ppath = c.root / "policies" / path.stem / f"{pid}.yaml"
        if not ppath.exists():
            c.add(path, node.line_of("policies"), f"policy {pid!r} not found at {c.rel(ppath)}")
            continue
        policy = _load_policy(c, ppath, path.stem, known)
        if policy:
            policies.append(policy)
    synonyms = _load_synonyms(c, path, node.get("synonyms"))
    if not (slug and name and lead and deputy):
        return None, synonyms
    return School(slug=slug, name=name, lead=lead, deputy=deputy, policies=tuple(policies)), synonyms


def load_knowledge(root: Path, cache_dir: Path | None = None) -> KnowledgeBase:
    """Load and validate a knowledge directory; raise KnowledgeError listing every problem.
    With `cache_dir`, files parsed before (same bytes) are read from its parsed-file cache, and
    on a large knowledge base a second process parses from the far end meanwhile (Prefetch)."""
    root = Path(root)
    if cache_dir is None:
        return _load(root, None)
    cache = ParsedCache(cache_dir)
    prefetch = Prefetch(cache, sorted((root / "policies").glob("*/*.yaml")))
    try:
        return _load(root, cache)
    finally:
        prefetch.close()
        cache.close()


def _load(root: Path, cache: ParsedCache | None) -> KnowledgeBase:
    c = _Collector(root, cache)
    schools_dir = root / "schools"
    if not schools_dir.is_dir():
        raise KnowledgeError([Problem(str(root), 0, "no schools/ directory: is this a policybot knowledge directory?")])
    school_files = sorted(schools_dir.glob("*.yaml"))
    known = {p.stem for p in school_files}
    for orphan in sorted((root / "policies").glob("*")) if (root / "policies").is_dir() else []:
        if orphan.is_dir() and orphan.name not in known:
            c.add(orphan, 0, f"policies for unknown school {orphan.name!r} (no schools/{orphan.name}.yaml)")
    schools, school_synonyms = {}, {}
    for path in school_files:
        if not SLUG.match(path.stem):
            c.add(path, 1, f"school file name {path.stem!r} is not a slug (lower-case letters, digits, '-')")
        school, syn = _load_school(c, path, known)
        if school:
            schools[school.slug] = school
            school_synonyms[school.slug] = syn
    synonyms: tuple[SynonymGroup, ...] = ()
    syn_path = root / "synonyms.yaml"
    if syn_path.exists():
        synonyms = _load_synonyms(c, syn_path, c.load(syn_path))
    if not school_files:
        c.add(schools_dir, 0, "no school files")
    notes_mod.orphan_files(c, root, known)
    schools = {slug: _with_notes(c, root, school) for slug, school in schools.items()}
    concerns = load_concern_bank(c, concern_root(root))
    if c.problems:
        raise KnowledgeError(c.problems)
    return KnowledgeBase(root=root, schools=schools, synonyms=synonyms, school_synonyms=school_synonyms,
                         concerns=concerns)


def approved_phrasings(root: Path, slug: str) -> list[tuple[str, str]]:
    """(clause id, phrasing) for each phrasing the school's lead approved (knowledge/phrasings/),
    for `kb diff`; [] when there are none or the file does not load (kb check reports it)."""
    path = root / notes_mod.PHRASINGS_DIR / f"{slug}.yaml"
    if not path.exists():
        return []
    return [(p.clause, p.about) for p in notes_mod.load_phrasings(_Collector(root), path, slug)]


def _with_notes(c: _Collector, root: Path, school: School) -> School:
    """The school with its lead's notes as clauses and its approved phrasings merged into the
    `about` of the clause or note each names (knowledge/notes/, knowledge/phrasings/)."""
    notes: list[Clause] = []
    path = root / notes_mod.NOTES_DIR / f"{school.slug}.yaml"
    if path.exists():
        taken = {cl.id for cl in school.clauses}
        for n in notes_mod.load_notes(c, path, school.slug, CLAUSE_ID, stance_mod.STANCES, taken):
            about = tuple(dict.fromkeys(p for p in ((n.question,) if n.question else ()) + n.about))
            notes.append(Clause(id=n.id, school=school.slug, policy_id=NOTES_POLICY_ID, section=NOTES_SECTION,
                                text=collapse_ws(n.text), about=about,
                                stance=n.stance or stance_mod.INFORMATION, file=n.file, line=n.line,
                                source=LEAD_ANSWER, author=n.author_display, date=n.date))
    school = replace(school, notes=tuple(notes))
    path = root / notes_mod.PHRASINGS_DIR / f"{school.slug}.yaml"
    if not path.exists():
        return school
    extra: dict[tuple[str, str], list[str]] = {}
    everything = list(school.clauses)
    for p in notes_mod.load_phrasings(c, path, school.slug):
        target = notes_mod.resolve_phrasing(c, p, everything)
        if target is not None:
            extra.setdefault((target.policy_id, target.id), []).append(p.about)

    def merged(cl: Clause) -> Clause:
        more = extra.get((cl.policy_id, cl.id))
        return replace(cl, about=tuple(dict.fromkeys(cl.about + tuple(more)))) if more else cl

    policies = tuple(replace(p, clauses=tuple(merged(cl) for cl in p.clauses)) for p in school.policies)
    return replace(school, policies=policies, notes=tuple(merged(n) for n in school.notes))


def concern_root(root: Path) -> Path:
    """The knowledge directory whose concerns/ is used: this one's, else the bundled one. A
    deployment's own knowledge directory usually holds only its schools; live-concern
    detection must not silently fall back to the lexicon because of that."""
    from .concerns import CONCERNS_DIR

    return root if (root / CONCERNS_DIR).is_dir() else bundled_knowledge_dir()


def bundled_knowledge_dir() -> Path:
    """The knowledge base shipped with the product (the repository's knowledge/)."""
    return Path(__file__).resolve().parents[2] / "knowledge"


__all__ = ["Clause", "Contact", "KnowledgeBase", "KnowledgeError", "Policy", "Problem", "School",
           "SynonymGroup", "UnknownSchool", "bundled_knowledge_dir", "load_knowledge", "parse_review_date"]
