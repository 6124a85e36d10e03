"""`policybot kb diff OLD NEW`, run as a real process on a bundled policy and a modified copy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from bot.knowledge.diff import review_comment
from bot.knowledge.load import load_knowledge
from tests.adapters.cli.test_cli import run
from tests.bot.knowledge.policy_documents import SCHOOLS, pdf_available, write_docx, write_pdf
from tests.conftest import REPO

LIVE = REPO / "knowledge" / "policies" / "tsat" / "social-media-policy.yaml"
SOURCE = REPO / "knowledge" / "sources" / "tsat.txt"
ADDED_TEXT = "A hacked school account must be reported to the Headteacher at once."


def new_version(tmp_path: Path) -> tuple[Path, str]:
    """The tsat policy as a fresh draft would give it: no about phrasings or stance overrides,
    1.1 reworded, 2.1 removed, 2.3 renumbered 2.30, one clause added; and its source text."""
    data = yaml.safe_load(LIVE.read_text(encoding="utf-8"))
    clauses = []
    for c in data["clauses"]:
        c = dict(c, about=[])
        c.pop("stance", None)
        if c["id"] == "2.1":
            continue
        if c["id"] == "1.1":
            c["text"] = c["text"].replace("It is crucial that", "It is vital that")
        if c["id"] == "2.3":
            c["id"] = "2.30"
            del c["about"]  # no about: key at all, as a hand-typed clause might have
        clauses.append(c)
    clauses.append({"id": "A.9", "section": "A.9 ACCOUNTS", "text": ADDED_TEXT, "about": []})
    data["clauses"] = clauses
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    source = SOURCE.read_text(encoding="utf-8").replace("It is crucial that", "It is vital that")
    return new, source + "\n" + ADDED_TEXT + "\n"


def test_kb_diff_reports_every_category_and_carries_phrasings_over(tmp_path):
    new, source = new_version(tmp_path)
    out = tmp_path / "carried.yaml"
    proc = run(["kb", "diff", str(LIVE), str(new), "--carry-over", str(out)])
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert "96 clauses before, 96 after: 93 unchanged, 1 renumbered, 1 reworded, 1 removed, 1 added" in text
    assert "Lead answers (knowledge/notes/)" in text and "kb check names" in text
    assert "reworded   1.1 (section '1 INTRODUCTION')" in text and "[-crucial-] {+vital+}" in text
    assert "renumbered 2.3 -> 2.30" in text
    assert "removed    2.1 (section '2. DEFINITIONS')" in text and "what 'the Trust' means in the policy" in text
    assert f"added      A.9 (section 'A.9 ACCOUNTS')\n    {ADDED_TEXT}" in text
    assert "flagged for review in" in text and "dropped in" in text

    carried = out.read_text(encoding="utf-8")
    lines = carried.splitlines()
    at = lines.index("- id: '1.1'")  # safe_dump writes the clause list unindented
    assert lines[at - 1] == review_comment(str(LIVE)) and carried.count("# review:") == 1
    # the carried-over file is a working knowledge base with the phrasings kept
    kb = tmp_path / "kb"
    for rel in ("schools/tsat.yaml", "synonyms.yaml"):
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "knowledge" / rel, kb / rel)
    (kb / "policies" / "tsat").mkdir(parents=True)
    shutil.copy(out, kb / "policies" / "tsat" / "social-media-policy.yaml")
    (kb / "sources").mkdir()
    (kb / "sources" / "tsat.txt").write_text(source, encoding="utf-8")
    loaded = {c.id: c for c in load_knowledge(kb).school("tsat").clauses}
    live = {c.id: c for c in load_knowledge(REPO / "knowledge").school("tsat").clauses}
    assert "2.1" not in loaded and loaded["A.9"].about == ()
    assert loaded["1.1"].about == live["1.1"].about and loaded["1.1"].about
    assert loaded["2.30"].about == live["2.3"].about and loaded["2.30"].stance == live["2.3"].stance == "information"
    assert all(loaded[cid].about == live[cid].about and loaded[cid].stance == live[cid].stance
               for cid in loaded if cid in live)

    # the carried-over file against the live one: only the real changes are left
    proc = run(["kb", "diff", str(LIVE), str(out), "--json"])
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["counts"] == {"unchanged": 93, "renumbered": 1, "reworded": 1, "removed": 1, "added": 1}
    assert report["flagged_for_review"] == ["1.1"] and report["dropped"][0]["id"] == "2.1"
    by_kind = {c["kind"]: c for c in report["changes"]}
    assert by_kind["renumbered"]["old_id"] == "2.3" and by_kind["renumbered"]["new_id"] == "2.30"
    assert {"op": "delete", "text": "crucial"} in by_kind["reworded"]["word_diff"]


def test_kb_diff_of_a_file_with_itself_is_exit_0():
    proc = run(["kb", "diff", str(LIVE), str(LIVE)])
    assert proc.returncode == 0, proc.stderr
    assert "no changes" in proc.stdout
    assert json.loads(run(["kb", "diff", str(LIVE), str(LIVE), "--json"]).stdout)["changed"] is False


def test_kb_diff_bad_input_is_exit_2_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(LIVE.read_text(encoding="utf-8").replace("  - id: '2.2'", "  - id: '2.2\n", 1), encoding="utf-8")
    proc = run(["kb", "diff", str(LIVE), str(bad)])
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{bad}:" in proc.stderr and "malformed YAML" in proc.stderr
    line = int(proc.stderr.split(f"{bad}:")[1].split(":")[0])
    assert line > 30  # where the broken quote is, not line 1
    proc = run(["kb", "diff", str(tmp_path / "missing.yaml"), str(LIVE)])
    assert proc.returncode == 2 and "missing.yaml:1: cannot read" in proc.stderr


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_re_ingesting_a_bundled_policy_renumbers_nothing(fmt, tmp_path):
    """A lead re-uploads the document a bundled policy was reviewed from: `kb diff` of the live
    YAML against the fresh `ingest` draft finds every clause under the id it already has, the
    unnumbered paragraphs' too (they are named as ingest names them), so nothing is reported
    renumbered or removed. What is left is wording the document cannot carry (emphasis, a
    lead-in the reviewer added) and, in the PDF, text the layout broke."""
    if fmt == "pdf" and not pdf_available():
        pytest.skip("fpdf2 or the DejaVu fonts (fonts-dejavu-core) are missing: cannot make the test PDFs")
    write = write_docx if fmt == "docx" else write_pdf
    unchanged = total = 0
    for slug in SCHOOLS:
        live = next((REPO / "knowledge" / "policies" / slug).glob("*.yaml"))
        doc = write(slug, tmp_path / f"{slug}.{fmt}")
        draft = tmp_path / f"{slug}-draft.yaml"
        proc = run(["ingest", str(doc), "--school", slug, "--out", str(draft)])
        assert proc.returncode == 0, proc.stderr
        proc = run(["kb", "diff", str(live), str(draft), "--json"])
        assert proc.returncode in (0, 1), proc.stderr
        report = json.loads(proc.stdout)
        moved = [(c["old_id"], c["new_id"]) for c in report["changes"] if c["renumbered"]]
        assert moved == [], (slug, moved)
        assert report["counts"]["removed"] == 0, slug
        unchanged += report["counts"]["unchanged"]
        total += sum(report["counts"][k] for k in ("unchanged", "renumbered", "reworded", "removed"))
    assert total == 330
    # the rest keep their ids: emphasis or a lead-in the document does not carry, PDF line breaks
    assert unchanged / total >= 0.8


def test_lead_approved_phrasings_on_reworded_or_removed_clauses_are_listed_for_review(tmp_path):
    """A phrasing the lead approved (knowledge/phrasings/) sits on a clause id: when the update
    rewords or removes that clause, the diff names it, so it is checked before the update goes live."""
    new, _ = new_version(tmp_path)
    knowledge = tmp_path / "knowledge"
    (knowledge / "phrasings").mkdir(parents=True)
    (knowledge / "phrasings" / "tsat.yaml").write_text(
        "school: tsat\nphrasings:\n"
        "  - clause: '1.1'\n    about: why the trust minds what i post\n"
        "  - clause: '2.1'\n    about: who counts as the trust\n"
        "  - clause: '5.4'\n    about: adding a pupil's mum\n", encoding="utf-8")
    env = {"POLICYBOT_KNOWLEDGE_DIR": str(knowledge)}
    text = run(["kb", "diff", str(LIVE), str(new)], env_extra=env).stdout
    assert "lead-approved phrasings (knowledge/phrasings/) on clauses this update rewords or removes" in text
    assert "1.1 (reworded): why the trust minds what i post" in text
    assert "2.1 (removed): who counts as the trust" in text
    assert "adding a pupil's mum" not in text  # 5.4 is unchanged
    report = json.loads(run(["kb", "diff", str(LIVE), str(new), "--json"], env_extra=env).stdout)
    assert {(r["kind"], r["clause"]) for r in report["approved_phrasings_to_review"]} == {
        ("reworded", "1.1"), ("removed", "2.1")}
