"""The `policybot` command, run as a real process: ask, batch (the stable contract), chat, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(args, tiny_kb=None, stdin="", env_extra=None):
    env = dict(os.environ, POLICYBOT_TODAY="2026-11-25")
    if tiny_kb:
        env["POLICYBOT_KNOWLEDGE_DIR"] = str(tiny_kb)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)


def test_ask_json_follows_the_batch_contract(tiny_kb):
    proc = run(["ask", "--school", "alpha", "--json", "can I post pics of my class on my facebook?"], tiny_kb)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"id", "school", "decision", "confidence", "citations", "lead", "text"} <= out.keys()
    assert out["decision"] == "answer" and out["school"] == "alpha"
    assert out["citations"][0]["id"] == "2.1"
    assert {"id", "section", "policy", "text", "school"} <= out["citations"][0].keys()
    assert out["lead"]["name"] == "Ms A Lead"


def test_ask_prints_readable_text(tiny_kb):
    proc = run(["ask", "--school", "alpha", "pics", "of", "my", "class", "on", "my", "facebook"], tiny_kb)
    assert proc.returncode == 0
    assert "Photographs of pupils must never be posted on personal accounts." in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["ask", "--school", "alpha", ""], "empty"),
    (["ask", "--school", "alpha", "x" * 4001], "under 4,000"),
    (["ask", "--school", "nowhere", "can I post photos?"], "unknown school 'nowhere'"),
])
def test_ask_bad_input_is_a_clear_message_and_non_zero_exit(tiny_kb, args, message):
    proc = run(args, tiny_kb)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_batch_answers_every_line_and_flags_bad_ones_without_stopping(tiny_kb):
    lines = [
        {"id": "q1", "school": "alpha", "question": "pics of my class on my facebook"},
        {"id": "q2", "school": "beta", "question": "friend requests from former pupils"},
        {"id": "q3", "school": "gamma", "question": "anything"},
        {"id": "q4", "school": "alpha", "question": ""},
        "not json at all",
        {"id": "q6", "school": "alpha", "question": "a pupil told me she is self harming"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    proc = run(["batch"], tiny_kb, stdin=stdin)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 6
    assert out[0]["decision"] == "answer" and out[0]["citations"][0]["id"] == "2.1"
    assert out[1]["school"] == "beta" and all(c["school"] == "beta" for c in out[1]["citations"])
    assert "unknown school 'gamma'" in out[2]["error"]
    assert "empty" in out[3]["error"] and out[3]["id"] == "q4"
    assert "not JSON" in out[4]["error"]
    assert out[5]["decision"] == "urgent"
    assert proc.returncode == 1  # some lines failed; the others were still answered


def test_chat_session_switches_school_and_quits(tiny_kb):
    stdin = "pics of my class on my facebook\n:school beta\nfriend requests from former pupils\n:quit\n"
    proc = run(["chat", "--school", "alpha"], tiny_kb, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert "Photographs of pupils must never be posted" in proc.stdout
    assert "School: Beta Academy" in proc.stdout
    assert "Staff are advised against friend requests with former pupils" in proc.stdout


def test_bad_configuration_names_the_variable(tiny_kb):
    proc = run(["kb", "check"], tiny_kb, env_extra={"POLICYBOT_ANSWER_THRESHOLD": "high"})
    assert proc.returncode == 2
    assert "POLICYBOT_ANSWER_THRESHOLD='high' is not a number" in proc.stderr
    proc = run(["kb", "check"], env_extra={"POLICYBOT_KNOWLEDGE_DIR": "/nonexistent/kb"})
    assert proc.returncode == 2 and "POLICYBOT_KNOWLEDGE_DIR" in proc.stderr


def test_ingest_drafts_yaml_with_numbering(tmp_path):
    src = tmp_path / "p.txt"
    src.write_text("1 INTRODUCTION\n\n1.1 Staff must not post photos.\n\n1.2 Staff must:\n\n- be kind\n- be careful\n")
    proc = run(["ingest", str(src), "--school", "alpha"])
    assert proc.returncode == 0, proc.stderr
    assert "- id: '1.1'" in proc.stdout and "- id: 1.2(a)" in proc.stdout
    bad = run(["ingest", str(tmp_path / "p.exe"), "--school", "alpha"])
    assert bad.returncode == 2 and "cannot read .exe" in bad.stderr
    missing = run(["ingest", str(tmp_path / "p.pdf"), "--school", "alpha"])
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    proc = run(["ingest", str(broken), "--school", "alpha"])
    assert proc.returncode == 2 and "not a Word .docx file" in proc.stderr


def test_docx_to_checked_school_without_typing_yaml(tmp_path):
    """A school with only its Word policy: ingest --into, school add, kb check passes."""
    from tests.bot.knowledge.policy_documents import write_docx

    doc = write_docx("arh", tmp_path / "policy.docx")
    kb = tmp_path / "kb"
    proc = run(["ingest", str(doc), "--school", "st-marys", "--policy-id", "social-media-policy", "--into", str(kb)])
    assert proc.returncode == 0, proc.stderr
    assert "next review 'September 2025'" in proc.stderr and "left out:" in proc.stderr
    proc = run(["school", "add", "--dir", str(kb), "--slug", "st-marys", "--name", "St Mary's",
                "--lead-name", "Mrs A Lead", "--lead-email", "lead@st-marys.example.org",
                "--deputy-email", "dsl@st-marys.example.org", "--no-input"])
    assert proc.returncode == 0, proc.stderr
    proc = run(["kb", "check", "--dir", str(kb)])
    assert proc.returncode == 0, proc.stderr
    assert "1 schools, 36 clauses" in proc.stdout
    # missing answers are refused in plain words; a broken school file is explained
    proc = run(["school", "add", "--dir", str(kb), "--slug", "St Marys", "--name", "", "--no-input"])
    assert proc.returncode == 2 and "lower-case letters" in proc.stderr and "at least one way to reach the lead" in proc.stderr
    school = kb / "schools" / "st-marys.yaml"
    school.write_text(school.read_text().split("deputy:")[0] + "policies:\n  - social-media-policy\n")
    proc = run(["kb", "check", "--dir", str(kb)])
    assert proc.returncode == 1 and "-> Add the deputy to the school file" in proc.stderr


def test_encoder_tune_without_torch_says_what_to_install_and_changes_nothing(tiny_kb, tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here; the message is for machines without it")
    out = tmp_path / "weights.safetensors"
    result = run(["encoder", "tune", "--out", str(out)], tiny_kb)
    assert result.returncode == 2
    assert "needs torch" in result.stderr and "runs without it" in result.stderr
    assert not out.exists()
