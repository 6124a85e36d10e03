"""The parsed-file cache: a restart reads unchanged knowledge files from it, gives the same
knowledge and the same file:line problems, and parses an edited or damaged entry afresh."""
from __future__ import annotations

import pytest
import yaml

from bot.knowledge import yamlio
from bot.knowledge.load import KnowledgeError, load_knowledge
from bot.knowledge.parsed_cache import ParsedCache
from bot.knowledge.yamlio import load_yaml
from tests.conftest import POLICY_A, write


def _no_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parsed a file the cache holds")
    monkeypatch.setattr(yamlio.yaml, "load", refuse)


def test_a_restart_reads_unchanged_files_from_the_cache(tiny_kb, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = load_knowledge(tiny_kb, cache)
    assert list((cache / "parsed").glob("*.json"))
    with monkeypatch.context() as m:
        _no_parsing(m)
        again = load_knowledge(tiny_kb, cache)
    assert again.schools == first.schools
    assert again.synonyms == first.synonyms and again.school_synonyms == first.school_synonyms
    assert again.schools == load_knowledge(tiny_kb).schools  # the same as with no cache at all


def test_problems_keep_their_lines_when_read_from_the_cache(tiny_kb, tmp_path, monkeypatch):
    write(tiny_kb, "policies/alpha/social-media.yaml", POLICY_A.replace('- id: "1.2"', '- id: "1.1"'))
    cache = tmp_path / "cache"
    with pytest.raises(KnowledgeError) as fresh:
        load_knowledge(tiny_kb, cache)
    with monkeypatch.context() as m:
        _no_parsing(m)
        with pytest.raises(KnowledgeError) as cached:
            load_knowledge(tiny_kb, cache)
    assert [str(p) for p in cached.value.problems] == [str(p) for p in fresh.value.problems]
    assert str(cached.value.problems[0]).startswith("knowledge/policies/alpha/social-media.yaml:10:")


def test_an_edited_file_is_parsed_again(tiny_kb, tmp_path):
    cache = tmp_path / "cache"
    load_knowledge(tiny_kb, cache)
    write(tiny_kb, "policies/alpha/social-media.yaml", POLICY_A.replace("twenty one", "twenty two"))
    kb = load_knowledge(tiny_kb, cache)
    assert "twenty two" in next(c.text for c in kb.school("alpha").clauses if c.id == "1.2")


def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("a: [1, 2]\nb: {c: x}\n", encoding="utf-8")
    cache = ParsedCache(tmp_path / "cache")
    assert load_yaml(path, cache) == {"a": [1, 2], "b": {"c": "x"}}
    (entry,) = (tmp_path / "cache" / "parsed").glob("*.json")
    entry.write_text('{"m": 1, "p": [["a"', encoding="utf-8")
    value = load_yaml(path, cache)
    assert value == {"a": [1, 2], "b": {"c": "x"}} and value.line_of("b") == 2
    assert cache.get(path.read_bytes()) == value


def test_keys_lines_and_scalars_survive_the_round_trip(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("1.1: one\n2: [true, null, 3.5, '7']\nnested:\n  - {k: v}\n", encoding="utf-8")
    cache = ParsedCache(tmp_path / "cache")
    fresh = load_yaml(path)
    load_yaml(path, cache)
    cached = load_yaml(path, cache)
    assert cached == fresh == yaml.safe_load(path.read_text())
    assert list(cached) == [1.1, 2, "nested"]  # a number key stays a number
    assert cached.line_of("nested") == 3 and cached["nested"].line == 4 and cached["nested"][0].line == 4
    assert [type(v) for v in cached[2]] == [bool, type(None), float, str]


def test_an_unwritable_cache_loads_everything_and_warns_once(tiny_kb, tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory", encoding="utf-8")  # parsed/ cannot be made under a file
    with caplog.at_level("WARNING"):
        kb = load_knowledge(tiny_kb, blocker)
    assert kb.schools == load_knowledge(tiny_kb).schools
    assert sum("parsed-file cache" in r.getMessage() for r in caplog.records) == 1
