"""The concern bank loader: every problem reported as file:line, like every knowledge file."""
from pathlib import Path

import pytest

from bot.knowledge.load import KnowledgeError, load_knowledge
from tests.conftest import POLICY_A, SCHOOL_A, write

GOOD_CATEGORY = """
    category: grooming
    title: Sexual exploitation or grooming
    advice: ["Don't contact the adult."]
    exemplars:
      - text: "a man online keeps sending her game credits and asked her to keep it quiet"
        source: nspcc
"""
GOOD_NEGATIVE = """
    kind: negative
    topic: teaching
    title: Teaching
    exemplars:
      - text: "planning a PSHE lesson on staying safe online"
        why: "a lesson"
"""


def kb_with(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "knowledge"
    write(root, "schools/alpha.yaml", SCHOOL_A)
    write(root, "policies/alpha/social-media.yaml", POLICY_A)
    for rel, body in files.items():
        write(root, f"concerns/{rel}", body)
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def test_a_good_bank_loads_with_categories_advice_and_a_digest(tmp_path):
    kb = load_knowledge(kb_with(tmp_path, {"grooming.yaml": GOOD_CATEGORY, "negatives/teaching.yaml": GOOD_NEGATIVE}))
    bank = kb.concerns
    assert [e.label for e in bank.concerns] == ["grooming"] and [e.label for e in bank.negatives] == ["teaching"]
    assert bank.category("grooming").advice == ("Don't contact the adult.",)
    assert bank.concerns[0].line == 5 and bank.concerns[0].file.endswith("concerns/grooming.yaml")
    assert len(bank.digest) == 16


def test_the_digest_changes_when_an_exemplar_changes(tmp_path):
    first = load_knowledge(kb_with(tmp_path / "a", {"grooming.yaml": GOOD_CATEGORY})).concerns.digest
    changed = GOOD_CATEGORY.replace("game credits", "gift cards")
    second = load_knowledge(kb_with(tmp_path / "b", {"grooming.yaml": changed})).concerns.digest
    assert first != second


def test_malformed_yaml_names_file_and_line(tmp_path):
    found = problems(kb_with(tmp_path, {"grooming.yaml": "category: grooming\nexemplars:\n  - text: [unclosed\n"}))
    assert any("concerns/grooming.yaml:" in p and "malformed YAML" in p for p in found)


def test_each_mistake_is_reported_with_its_line(tmp_path):
    body = """
        category: groomin
        title: Sexual exploitation or grooming
        exemplars:
          - text: "first exemplar about an older man online"
            source: made-up
          - text: "first exemplar about an older man online"
            source: nspcc
          - text: ""
            source: nspcc
    """
    found = problems(kb_with(tmp_path, {"grooming.yaml": body, "negatives/x.yaml": "topic: x\nexemplars: []\n"}))
    assert any("grooming.yaml:1: category 'groomin' does not match the file name" in p for p in found)
    assert any("grooming.yaml:" in p and "needs 'advice'" in p for p in found)
    assert any("grooming.yaml:5: unknown source 'made-up'" in p for p in found)
    assert any("grooming.yaml:6: exemplar repeated (first in" in p for p in found)
    assert any("grooming.yaml:8:" in p and "'text' is missing or empty" in p for p in found)
    assert any("negatives/x.yaml:" in p and "kind: negative" in p for p in found)
    assert any("negatives/x.yaml:" in p and "'exemplars' must be a non-empty list" in p for p in found)


def test_a_knowledge_dir_without_concerns_uses_the_bundled_bank(tiny_kb):
    kb = load_knowledge(tiny_kb)
    assert len(kb.concerns.concerns) >= 400 and kb.concerns.category("images") is not None
