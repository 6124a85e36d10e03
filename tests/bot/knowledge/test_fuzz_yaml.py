"""Fuzzing the knowledge YAML (issue 16): a school or policy file of any shape, or any bytes, is
either loaded or reported as KnowledgeError problems (file:line: message), never another exception."""
from __future__ import annotations

import shutil
import textwrap

import yaml
from hypothesis import given, settings, strategies as st

from bot.knowledge.load import KnowledgeError, load_knowledge
from tests.conftest import POLICY_A, SCHOOL_A

VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                      | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30) | st.dates(),
                      lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                      max_leaves=10)
FIELDS = st.sampled_from(["id", "school", "title", "next_review", "clauses", "slug", "name", "lead", "deputy",
                          "policies", "synonyms", "text", "section", "about", "stance"])


def _mutated(base: str, changes) -> str:
    doc = yaml.safe_load(textwrap.dedent(base))
    for key, value in changes:
        target = doc
        if key in ("text", "section", "about", "stance", "id") and isinstance(doc.get("clauses"), list) and doc["clauses"]:
            target = doc["clauses"][0] if isinstance(doc["clauses"][0], dict) else doc
        target[key] = value
    return yaml.safe_dump(doc, allow_unicode=True)


FILES = (st.tuples(st.just(POLICY_A), st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=3))
         .map(lambda t: _mutated(*t)).map(str.encode)
         | st.binary(max_size=300)
         | st.text(max_size=300).map(str.encode)
         | VALUES.map(lambda v: yaml.safe_dump(v, allow_unicode=True).encode()))
WHICH = st.sampled_from(["policies/alpha/social-media.yaml", "schools/alpha.yaml", "synonyms.yaml"])


@settings(max_examples=15)  # each example loads a knowledge base (~0.3 s)
@given(which=WHICH, content=FILES)
def test_fuzz_knowledge_yaml(tiny_kb, tmp_path_factory, which, content):
    root = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(tiny_kb, root)
    (root / which).write_bytes(content)
    try:
        kb = load_knowledge(root)
    except KnowledgeError as exc:
        assert exc.problems and all(str(p).strip() for p in exc.problems)
    else:
        assert kb.schools


def test_school_file_mutations_are_reported(tiny_kb):
    (tiny_kb / "schools/alpha.yaml").write_text(_mutated(SCHOOL_A, [("lead", [1, 2])]), encoding="utf-8")
    try:
        load_knowledge(tiny_kb)
    except KnowledgeError as exc:
        assert exc.problems
