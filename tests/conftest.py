"""Shared fixtures: the bundled bot on a pinned date, and tiny knowledge bases built per test."""
from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from bot.config import Settings
from bot.knowledge.load import bundled_knowledge_dir
from bot.service import build_bot

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The cache the bot itself uses, so the one-off ONNX export and clause encoding are
    shared with `make run` and with earlier test runs (tests that check the caching itself
    use their own directories)."""
    from bot.retrieval.embedding import default_cache_dir

    return default_cache_dir()


@pytest.fixture(scope="session")
def bundled_bot():
    return build_bot(Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY))


# A lead's reusable answer saved for TSAT, and a similar question it answers (tests of how a
# note is cited, in every channel's rendering).
NOTE_QUESTION = "Can I use ChatGPT to help write my pupils' end of year reports?"
NOTE_ANSWER = ("Yes, but never paste a pupil's name or any personal data into it, and check every word "
               "yourself before the report goes home.")
NOTE_SIMILAR = "is it ok to use chatgpt to help write the end of year reports for my class?"


@pytest.fixture(scope="session")
def noted_bot(tmp_path_factory):
    """The bundled knowledge (a copy) with one lead's note saved for TSAT, and the bot over it."""
    import shutil

    from bot.knowledge.notes_write import Keep, save

    root = tmp_path_factory.mktemp("noted") / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), root)
    save(root, "tsat", Keep(note=True, keep_question=True, question=NOTE_QUESTION), answer=NOTE_ANSWER,
         author="Ms A Lead", role="Online Safety Lead", day="2026-11-25", escalation_id="e5")
    return build_bot(Settings(knowledge_dir=root, today=TODAY))


def write(root: Path, rel: str, body: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


SCHOOL_A = """
    slug: alpha
    name: Alpha Primary
    lead: {role: Online Safety Lead, name: Ms A Lead}
    deputy: {role: Headteacher, name: Mr A Head}
    policies: [social-media]
"""

POLICY_A = """
    id: social-media
    school: alpha
    title: Alpha Social Media Policy
    next_review: September 2025
    clauses:
      - id: "1.1"
        section: 1 Contact with pupils
        text: Staff must not accept friend requests from current pupils on any social network.
        about: [pupil adds me on instagram]
      - id: "1.2"
        section: 1 Contact with pupils
        text: Staff may keep in touch with former pupils once they are over twenty one.
      - id: "2.1"
        section: 2 Photographs
        text: Photographs of pupils must never be posted on personal accounts.
        about: [pics of my class on my facebook]
"""

SCHOOL_B = """
    slug: beta
    name: Beta Academy
    lead: {role: Principal}
    deputy: {role: Chair of Governors}
    policies: [online-policy]
"""

POLICY_B = """
    id: online-policy
    school: beta
    title: Beta Online Policy
    next_review: December 2030
    clauses:
      - id: A.1
        section: A Contact
        text: Staff are advised against friend requests with former pupils at any age.
      - id: A.2
        section: A Contact
        text: Staff must use the school email account for all contact with parents.
      - id: B.1
        section: B Working time
        text: Personal use of social media during lessons is not permitted.
      - id: B.2
        section: B Working time
        text: The Academy may monitor internet use on its devices.
"""


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    """Two schools with different rules on the same topic, so separation is testable."""
    root = tmp_path / "knowledge"
    write(root, "schools/alpha.yaml", SCHOOL_A)
    write(root, "policies/alpha/social-media.yaml", POLICY_A)
    write(root, "schools/beta.yaml", SCHOOL_B)
    write(root, "policies/beta/online-policy.yaml", POLICY_B)
    write(root, "synonyms.yaml", """
        groups:
          - staff: [insta, ig]
            policy: [instagram]
          - staff: [ex pupil, old student]
            policy: [former pupils]
    """)
    return root


# --- Hypothesis (the fuzz tests): bounded and deterministic in CI, so the suite stays quick ---
from hypothesis import HealthCheck, settings as hypothesis_settings  # noqa: E402

# Fuzz tests share one server across examples on purpose (the property includes "still healthy
# afterwards"), hence function_scoped_fixture is not a mistake here.
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
hypothesis_settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                                     suppress_health_check=_SHARED, print_blob=True)
# HYPOTHESIS_PROFILE=thorough for a longer local hunt (new failures: keep them as regular tests).
hypothesis_settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=_SHARED)
hypothesis_settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "ci"))
