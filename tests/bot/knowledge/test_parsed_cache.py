"""The parsed-file cache: a restart reads unchanged knowledge files from it, gives the same
knowledge and the same file:line problems, and parses an edited or damaged entry afresh."""
from __future__ import annotations

import pytest
import yaml

from bot.knowledge import yamlio
from bot.knowledge.load import KnowledgeError, load_knowledge
from bot.knowledge.parsed_cache import ParsedCache
from bot.knowledge.yamlio import load_yaml
from tests.conftest import POLICY_A, SCHOOL_A, write


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
    cache.close()  # entries are written on a background thread
    (entry,) = (tmp_path / "cache" / "parsed").glob("*.json")
    entry.write_text('{"m": 1, "p": [["a"', encoding="utf-8")
    value = load_yaml(path, cache)
    assert value == {"a": [1, 2], "b": {"c": "x"}} and value.line_of("b") == 2
    cache.close()
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


def _many_schools(root, n: int):
    """`n` copies of school alpha under new slugs: enough files for the prefetch to start."""
    for i in range(n):
        slug = f"s{i:03d}"
        write(root, f"schools/{slug}.yaml", SCHOOL_A.replace("slug: alpha", f"slug: {slug}"))
        write(root, f"policies/{slug}/social-media.yaml",
              POLICY_A.replace("school: alpha", f"school: {slug}").replace("twenty one", f"twenty {i}"))
    return root


# Run in a fresh interpreter: the prefetch only starts in a process with no other thread, which
# a test session (its servers, its database pools) is not.
_PREFETCH_PROBE = """
import json, sys
from pathlib import Path
from bot.knowledge import parsed_cache
from bot.knowledge.load import KnowledgeError, load_knowledge
started = []
class Probe(parsed_cache.Prefetch):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        started.append(self.started)
import bot.knowledge.load as load
load.Prefetch = Probe
root, cache = Path(sys.argv[1]), Path(sys.argv[2])
try:
    kb = load_knowledge(root, cache)
    out = {"texts": sorted(c.text for s in kb.schools.values() for c in s.clauses)}
except KnowledgeError as exc:
    out = {"problems": [str(p) for p in exc.problems]}
out["started"] = started
print(json.dumps(out))
"""


def _load_in_fresh_process(root, cache):
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-c", _PREFETCH_PROBE, str(root), str(cache)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_a_first_load_of_many_files_is_shared_with_a_prefetch_process(tmp_path):
    from bot.knowledge.parsed_cache import PREFETCH_MIN_FILES

    root = _many_schools(tmp_path / "knowledge", PREFETCH_MIN_FILES + 6)
    cache = tmp_path / "cache"
    got = _load_in_fresh_process(root, cache)
    assert got["started"] == [True]
    # The same knowledge as a load with no cache at all, and every file's tree cached.
    assert got["texts"] == sorted(c.text for s in load_knowledge(root).schools.values() for c in s.clauses)
    stored = ParsedCache(cache)
    assert all(stored._path(f.read_bytes()).is_file() for f in root.rglob("*.yaml"))


def test_a_broken_file_is_reported_by_line_with_the_prefetch_on(tmp_path):
    from bot.knowledge.parsed_cache import PREFETCH_MIN_FILES

    root = _many_schools(tmp_path / "knowledge", PREFETCH_MIN_FILES + 6)
    last = sorted((root / "policies").glob("*/*.yaml"))[-1]  # the helper's first file
    last.write_text(last.read_text().replace("clauses:", "clauses: [\n"), encoding="utf-8")
    got = _load_in_fresh_process(root, tmp_path / "cache")
    assert got["started"] == [True]
    assert any(p.startswith(f"knowledge/policies/{last.parent.name}/social-media.yaml:") and "malformed YAML" in p
               for p in got["problems"]), got["problems"]


def test_no_prefetch_in_a_threaded_process_or_for_few_files(tmp_path):
    import threading

    from bot.knowledge.parsed_cache import Prefetch

    root = _many_schools(tmp_path / "knowledge", 70)
    paths = sorted((root / "policies").glob("*/*.yaml"))
    cache = ParsedCache(tmp_path / "cache")
    assert not Prefetch(cache, paths[:10]).started
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not Prefetch(cache, paths).started
    finally:
        release.set()
        other.join()
