"""`bot.knowledge.diff`: matching clauses across two versions of a policy, the report, carrying over."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from bot.knowledge.diff import (ADDED, REMOVED, RENUMBERED, REWORDED, UNCHANGED, CarryOverError, carry_over,
                                diff_policies, read_policy_file, render_word_diff, report_json, report_text,
                                review_comment, similarity)
from bot.knowledge.yamlio import YamlError

OLD = """
    id: p
    school: alpha
    title: Policy
    next_review: September 2025
    clauses:
      - id: "1.1"
        section: 1 Contact
        text: Staff must not accept friend requests from current pupils on any social network.
        about: [pupil adds me on instagram]
      - id: "1.2"
        section: 1 Contact
        text: Staff may keep in touch with former pupils once they are over twenty one.
        about:
          - ex pupil wants to stay in touch
        stance: may
      - id: "2.1"
        section: 2 Photos
        text: Photographs of pupils must never be posted on personal accounts.
        about: [pics of my class on my facebook]
      - id: "2.2"
        section: 2 Photos
        text: The school office keeps the register of parental consent for photographs.
        about: [where is the photo consent list]
"""


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def versions(tmp_path: Path, old: str, new: str):
    return read_policy_file(write(tmp_path, "old.yaml", old)), read_policy_file(write(tmp_path, "new.yaml", new))


def kinds(d) -> dict[str, list[str]]:
    return {k: [f"{c.old.id}->{c.new.id}" if c.old and c.new and c.renumbered else (c.new or c.old).id
                for c in d.of_kind(k)] for k in (UNCHANGED, RENUMBERED, REWORDED, REMOVED, ADDED)}


def test_identical_versions_and_whitespace_only_changes_are_no_change(tmp_path):
    rewrapped = OLD.replace("on any social network.", "on any\n          social   network.")
    d = diff_policies(*versions(tmp_path, OLD, rewrapped))
    assert not d.has_changes and d.counts[UNCHANGED] == 4
    assert "no changes" in report_text(d)


def test_every_category_is_found(tmp_path):
    new = (OLD.replace("current pupils on any social network", "current or recent pupils on any social network")
           .replace('id: "1.2"', 'id: "1.3"')
           .replace("""      - id: "2.2"
        section: 2 Photos
        text: The school office keeps the register of parental consent for photographs.
        about: [where is the photo consent list]
""", """      - id: "3.1"
        section: 3 Accounts
        text: A hacked school account must be reported to the Headteacher at once.
"""))
    d = diff_policies(*versions(tmp_path, OLD, new))
    assert kinds(d) == {UNCHANGED: ["2.1"], RENUMBERED: ["1.2->1.3"], REWORDED: ["1.1"], REMOVED: ["2.2"],
                        ADDED: ["3.1"]}
    assert d.has_changes
    reworded = d.of_kind(REWORDED)[0]
    assert render_word_diff(reworded.text_diff) == (
        "Staff must not accept friend requests from current {+or recent+} pupils on any social network.")
    assert [c.old.id for c in d.flagged] == ["1.1"] and [c.old.id for c in d.dropped] == ["2.2"]


def test_inserted_clause_shifting_the_numbers_is_renumbering_not_rewording(tmp_path):
    new = (OLD.replace('id: "1.2"', 'id: "1.3"').replace("""      - id: "2.1\"""", """      - id: "1.2"
        section: 1 Contact
        text: Staff must use the school email account for all contact with parents.
      - id: "2.1\""""))
    d = diff_policies(*versions(tmp_path, OLD, new))
    assert kinds(d)[RENUMBERED] == ["1.2->1.3"] and kinds(d)[ADDED] == ["1.2"]
    assert not d.of_kind(REWORDED) and not d.of_kind(REMOVED)


def test_renumbered_and_reworded_together(tmp_path):
    new = OLD.replace('id: "1.2"', 'id: "1.9"').replace("over twenty one", "over twenty-one years old")
    d = diff_policies(*versions(tmp_path, OLD, new))
    (c,) = d.of_kind(REWORDED)
    assert (c.old.id, c.new.id, c.renumbered) == ("1.2", "1.9", True)
    assert "1.2 -> 1.9" in report_text(d)


def test_a_reused_number_with_unrelated_text_is_removed_and_added(tmp_path):
    new = OLD.replace("The school office keeps the register of parental consent for photographs.",
                      "Governors review this policy every two years.")
    d = diff_policies(*versions(tmp_path, OLD, new))
    assert kinds(d)[REMOVED] == ["2.2"] and kinds(d)[ADDED] == ["2.2"] and not d.of_kind(REWORDED)


def test_a_changed_lead_in_is_a_rewording(tmp_path):
    old = """
        clauses:
          - id: 7.1(a)
            section: 7 Conduct
            lead_in: "Staff must:"
            text: post about pupils
    """
    d = diff_policies(*versions(tmp_path, old, old.replace('"Staff must:"', '"Staff must not:"')))
    (c,) = d.of_kind(REWORDED)
    assert render_word_diff(c.lead_in_diff) == "Staff [-must:-] {+must not:+}"
    assert "lead-in: Staff [-must:-] {+must not:+}" in report_text(d)


def test_emphasis_only_change_is_reworded_with_the_same_words(tmp_path):
    d = diff_policies(*versions(tmp_path, OLD, OLD.replace("must never be posted", "must **never** be posted")))
    (c,) = d.of_kind(REWORDED)
    assert c.similarity == 1.0 and "only punctuation, case or emphasis changed" in report_text(d)


def test_similarity_ignores_case_and_punctuation():
    assert similarity("Staff MUST not post.", "staff must not post") == 1.0
    assert similarity("Staff must not post.", "Governors meet termly") == 0.0


def test_report_header_says_lead_answers_are_kept_apart_and_json_matches(tmp_path):
    new = OLD.replace("current pupils", "current or recent pupils").replace("next_review: September 2025",
                                                                            "next_review: September 2027")
    d = diff_policies(*versions(tmp_path, OLD, new))
    text = report_text(d)
    assert "Lead answers" in text.splitlines()[1] and "are not changed here" in text
    assert "metadata next_review: 'September 2025' -> 'September 2027'" in text
    js = report_json(d)
    assert js["changed"] and js["counts"][REWORDED] == 1 and js["flagged_for_review"] == ["1.1"]
    assert "are not changed here" in js["lead_answers"]
    (change,) = js["changes"]
    assert change["kind"] == REWORDED and {"op": "insert", "text": "or recent"} in change["word_diff"]


def test_carry_over_edits_the_new_file_in_place(tmp_path):
    draft = """
        # Draft from policy.docx by `policybot ingest`.
        id: p
        clauses:
          # source line 3
          - id: '1.1'
            section: 1 Contact
            text: Staff must not accept friend requests from current or recent pupils on any social network.
            about: []
          # source line 5; unnumbered paragraph: check id
          - id: '1.3'
            section: 1 Contact
            text: Staff may keep in touch with former pupils once they are over twenty one.
          - id: '2.1'
            section: 2 Photos
            text: Photographs of pupils must never be posted on personal accounts.
            about:
              - posting class photos on facebook
          - id: '3.1'
            section: 3 Accounts
            text: A hacked school account must be reported to the Headteacher at once.
            about: []
    """
    old, new = versions(tmp_path, OLD, draft)
    d = diff_policies(old, new)
    out = carry_over(d, (tmp_path / "new.yaml").read_text(), "live.yaml")
    assert "# source line 3" in out and "# Draft from policy.docx" in out and "# source line 5" in out
    lines = out.splitlines()
    flagged = lines.index("  # " + review_comment("live.yaml")[2:])
    assert lines[flagged + 1] == "  - id: '1.1'"
    assert out.count("# review:") == 1
    data = {c["id"]: c for c in yaml.safe_load(out)["clauses"]}
    assert data["1.1"]["about"] == ["pupil adds me on instagram"]
    assert data["1.3"]["about"] == ["ex pupil wants to stay in touch"] and data["1.3"]["stance"] == "may"
    # phrasings the new file already had are kept, after the old ones
    assert data["2.1"]["about"] == ["pics of my class on my facebook", "posting class photos on facebook"]
    assert data["3.1"]["about"] == []
    assert "where is the photo consent list" not in out  # removed clause: dropped, listed in the report
    assert "where is the photo consent list" in report_text(d, "out.yaml")


def test_carry_over_keeps_a_stance_the_new_file_sets(tmp_path):
    new = OLD.replace("stance: may", "stance: should").replace("""        about:
          - ex pupil wants to stay in touch
""", "")
    d = diff_policies(*versions(tmp_path, OLD, new))
    out = yaml.safe_load(carry_over(d, (tmp_path / "new.yaml").read_text(), "old.yaml"))
    assert out["clauses"][1]["stance"] == "should"
    assert out["clauses"][1]["about"] == ["ex pupil wants to stay in touch"]


def test_carry_over_refuses_a_flow_style_clause(tmp_path):
    new = """
        clauses:
          - {id: "1.1", section: 1 Contact, text: Staff must not accept friend requests from current pupils on any social network.}
    """
    d = diff_policies(*versions(tmp_path, OLD, new))
    with pytest.raises(CarryOverError, match="flow mapping"):
        carry_over(d, (tmp_path / "new.yaml").read_text(), "old.yaml")


@pytest.mark.parametrize("body,line,message", [
    ("clauses:\n  - id: '1.1'\n    text: [unclosed\n", 4, "malformed YAML"),
    ("- just a list\n", 1, "not a policy file"),
    ("title: x\n", 1, "'clauses' must be a non-empty list"),
    ("clauses:\n  - id: '1.1'\n    text: a\n  - id: '1.1'\n    text: b\n", 4, "duplicate clause id '1.1'"),
    ("clauses:\n  - id: '1.1'\n    section: s\n", 2, "'text' is missing"),
    ("clauses:\n  - text: a\n", 2, "clause has no id"),
    ("clauses:\n  - id: a\n    text: b\n    about: just one\n", 4, "'about' must be a list"),
])
def test_bad_files_are_reported_with_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(YamlError) as info:
        read_policy_file(path)
    assert info.value.line == line and message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(YamlError, match="cannot read"):
        read_policy_file(tmp_path / "nope.yaml")
