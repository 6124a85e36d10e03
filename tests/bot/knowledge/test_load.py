"""`policybot kb check` and the loader: broken knowledge files are reported with file, line and a plain message."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from adapters.cli import main
from bot.knowledge.load import KnowledgeError, load_knowledge, parse_review_date
from tests.conftest import POLICY_A, write


def problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def test_tiny_kb_loads_with_stances_and_dates(tiny_kb):
    kb = load_knowledge(tiny_kb)
    assert sorted(kb.schools) == ["alpha", "beta"]
    alpha = kb.school("alpha")
    assert [c.id for c in alpha.clauses] == ["1.1", "1.2", "2.1"]
    assert [c.stance for c in alpha.clauses] == ["must not", "may", "must not"]
    assert alpha.policies[0].next_review_by == date(2025, 9, 30)
    assert kb.school("beta").lead.display == "the Principal"


def test_malformed_yaml_names_file_and_line(tiny_kb):
    path = tiny_kb / "policies/alpha/social-media.yaml"
    lines = path.read_text().splitlines()
    lines[5] = "  - id: [unclosed"
    path.write_text("\n".join(lines) + "\n")
    found = problems(tiny_kb)
    assert len(found) == 1
    assert found[0].startswith("knowledge/policies/alpha/social-media.yaml:")
    assert "malformed YAML" in found[0]
    line = int(found[0].split(":")[1])
    assert 6 <= line <= 8


def test_missing_lead_is_reported(tiny_kb):
    write(tiny_kb, "schools/alpha.yaml", """
        slug: alpha
        name: Alpha Primary
        deputy: {role: Headteacher}
        policies: [social-media]
    """)
    assert problems(tiny_kb) == [
        "knowledge/schools/alpha.yaml:1: school has no lead (every school needs a named lead to route questions to)"]


def test_duplicate_clause_id_names_both_lines(tiny_kb):
    body = POLICY_A.replace('- id: "1.2"', '- id: "1.1"')
    write(tiny_kb, "policies/alpha/social-media.yaml", body)
    found = problems(tiny_kb)
    assert len(found) == 1
    assert "duplicate clause id '1.1' (first on line 6)" in found[0]
    assert found[0].startswith("knowledge/policies/alpha/social-media.yaml:10:")


def test_empty_clause_text_is_reported(tiny_kb):
    body = POLICY_A.replace("Staff may keep in touch with former pupils once they are over twenty one.", '""')
    write(tiny_kb, "policies/alpha/social-media.yaml", body)
    assert problems(tiny_kb) == ["knowledge/policies/alpha/social-media.yaml:12: clause 1.2: 'text' is missing or empty"]


def test_unknown_school_in_policy_is_reported(tiny_kb):
    write(tiny_kb, "policies/alpha/social-media.yaml", POLICY_A.replace("school: alpha", "school: gamma"))
    found = problems(tiny_kb)
    assert found == ["knowledge/policies/alpha/social-media.yaml:2: unknown school 'gamma' (known: alpha, beta)"]


def test_policies_for_an_unknown_school_directory(tiny_kb):
    write(tiny_kb, "policies/gamma/x.yaml", "id: x\n")
    assert any("policies for unknown school 'gamma'" in p for p in problems(tiny_kb))


def test_unknown_field_and_bad_stance(tiny_kb):
    body = POLICY_A.replace("about: [pupil adds me on instagram]", "abuot: [typo]\n        stance: banned")
    write(tiny_kb, "policies/alpha/social-media.yaml", body)
    found = problems(tiny_kb)
    assert any("unknown field 'abuot' in clause" in p for p in found)
    assert any("unknown stance 'banned'" in p for p in found)


def test_text_not_verbatim_in_source_is_reported(tiny_kb):
    write(tiny_kb, "sources/alpha.txt", "1.1 Staff must not accept friend requests from current pupils on any social network.\n")
    body = POLICY_A.replace("next_review: September 2025", "next_review: September 2025\n    source: sources/alpha.txt")
    write(tiny_kb, "policies/alpha/social-media.yaml", body)
    found = problems(tiny_kb)
    assert len(found) == 2  # 1.2 and 2.1 are not in the source; 1.1 is
    assert all("is not verbatim in the source policy" in p for p in found)


def test_all_problems_reported_in_one_pass(tiny_kb):
    write(tiny_kb, "schools/beta.yaml", "slug: beta\nname: Beta\npolicies: [online-policy]\n")
    write(tiny_kb, "synonyms.yaml", "groups:\n  - staff: [x]\n")
    found = problems(tiny_kb)
    assert any("beta.yaml" in p and "no lead" in p for p in found)
    assert any("beta.yaml" in p and "no deputy" in p for p in found)
    assert any("synonyms.yaml:2" in p for p in found)


def test_kb_check_command_exit_codes(tiny_kb, capsys):
    assert main(["kb", "check", "--dir", str(tiny_kb)]) == 0
    assert "ok: 2 schools, 7 clauses, 2 synonym groups" in capsys.readouterr().out
    (tiny_kb / "synonyms.yaml").write_text("groups: [\n")
    assert main(["kb", "check", "--dir", str(tiny_kb)]) == 1
    err = capsys.readouterr().err
    assert "knowledge/synonyms.yaml:2: malformed YAML" in err
    assert "1 problem(s)" in err


@pytest.mark.parametrize("written,expected", [
    ("19.01.2023", date(2023, 1, 19)),
    ("September 2025", date(2025, 9, 30)),
    ("Autumn 2026", date(2026, 12, 31)),
    ("Term 6 – 2020/21", date(2021, 7, 31)),
    ("2026-12-31", date(2026, 12, 31)),
    ("some day", None),
])
def test_review_dates_mean_the_end_of_the_period(written, expected):
    assert parse_review_date(written) == expected


def test_numbers_are_phrases_but_booleans_must_be_quoted(tiny_kb):
    write(tiny_kb, "synonyms.yaml", """
        groups:
          - staff: [18, turned 18]
            policy: [age of nineteen]
    """)
    kb = load_knowledge(tiny_kb)
    assert kb.synonyms[0].staff == ("18", "turned 18")
    write(tiny_kb, "synonyms.yaml", """
        groups:
          - staff: [lies]
            policy: [false, defamatory]
    """)
    found = problems(tiny_kb)
    assert "knowledge/synonyms.yaml:3: synonym group: 'policy' has a word YAML reads as true/false" in found[0]
    assert "put it in quotes" in found[0]


# --- the YAML parser: libyaml's C parser, with the same file:line reports ---

MALFORMED = [
    "a: 1\nb: [unclosed\nc: 2\n",
    "a: 1\n  b: 2\n",
    "groups: [\n",
    "a: 1\nb: \"open\n",
    "a: 1\na: 2\n",
    "a: 1\nb: *nowhere\n",
    "a: é€ ok\nb: 1\nc: bell \x07 here\n",
    "x: !!python/object:os.system ls\n",
]


def test_knowledge_yaml_is_parsed_by_libyaml_when_pyyaml_has_it():
    import yaml

    from bot.knowledge import yamlio

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml")
    assert issubclass(yamlio._LineLoader, yaml.CSafeLoader)


@pytest.mark.parametrize("text", MALFORMED)
def test_the_c_parser_reports_the_same_line_as_the_python_one(text, tmp_path, monkeypatch):
    import yaml

    from bot.knowledge import yamlio

    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    lines = []
    for base in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        monkeypatch.setattr(yamlio, "_LineLoader", yamlio.line_loader(base))
        with pytest.raises(yamlio.YamlError) as caught:
            yamlio.load_yaml(path)
        assert str(caught.value).startswith(f"{path}:{caught.value.line}: malformed YAML: ")
        assert "\n" not in str(caught.value)  # one line, not the parser's multi-line report
        lines.append(caught.value.line)
    assert lines[0] == lines[1]


def test_a_control_character_names_its_line(tiny_kb):
    path = tiny_kb / "policies/alpha/social-media.yaml"
    lines = path.read_text().splitlines()
    lines[7] += " \x07"
    path.write_text("\n".join(lines) + "\n")
    assert problems(tiny_kb) == ["knowledge/policies/alpha/social-media.yaml:8: malformed YAML: "
                                 "unacceptable character #x0007 (control characters are not allowed)"]


def test_line_numbers_survive_the_c_parser(tiny_kb):
    kb = load_knowledge(tiny_kb)
    clause = kb.school("alpha").clauses[1]
    assert clause.id == "1.2" and clause.line == 10
