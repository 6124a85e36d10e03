"""Every setting, read from the environment in one place, each with its documented default.

A bad value stops the start with a message naming the variable, rather than running
on a silently different configuration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .knowledge import bundled_knowledge_dir


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _number(env: dict, name: str, default, cast: type, lo: float, hi: float):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} must be between {lo} and {hi}")
    return value


def _float(env: dict, name: str, default: float | None, lo: float = 0.0, hi: float = 1.0) -> float | None:
    return _number(env, name, default, float, lo, hi)


def _int(env: dict, name: str, default: int, lo: int = 1, hi: int = 10**9) -> int:
    return _number(env, name, default, int, lo, hi)


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} must be 1/0, true/false, yes/no or on/off")


@dataclass(frozen=True)
class Settings:
    # Where the clause knowledge base lives (schools/, policies/, synonyms.yaml).
    knowledge_dir: Path = field(default_factory=bundled_knowledge_dir)
    # Confidence at or above which the bot answers; below it, the question goes to the lead.
    # None: the threshold chosen by `policybot calibrate` (knowledge/calibration.yaml).
    answer_threshold: float | None = None
    # Questions longer than this many characters are refused politely.
    max_question_chars: int = 4000
    # How many clauses an answer quotes at most.
    max_citations: int = 3
    # A clause is quoted only if it scores at least this share of the best clause's score.
    citation_floor: float = 0.35
    # The date review warnings are measured against (tests pin it); default: today.
    today: date | None = None
    # Log question text (off: logs carry ids and decisions only, as questions may name children).
    log_questions: bool = False
    # --- semantic stage (issue 3) ---
    # --- server (issue 4) ---
    # --- escalations (issue 5) ---

    def current_date(self) -> date:
        return self.today or date.today()


def from_env(env: dict | None = None) -> Settings:
    """Settings from environment variables (see the README's table)."""
    env = dict(os.environ if env is None else env)
    kdir = env.get("POLICYBOT_KNOWLEDGE_DIR")
    knowledge_dir = Path(kdir) if kdir else bundled_knowledge_dir()
    if not knowledge_dir.is_dir():
        raise ConfigError(f"POLICYBOT_KNOWLEDGE_DIR={str(knowledge_dir)!r} is not a readable directory")
    today = None
    if env.get("POLICYBOT_TODAY"):
        try:
            today = date.fromisoformat(env["POLICYBOT_TODAY"])
        except ValueError:
            raise ConfigError(f"POLICYBOT_TODAY={env['POLICYBOT_TODAY']!r} is not a YYYY-MM-DD date") from None
    return Settings(
        knowledge_dir=knowledge_dir,
        answer_threshold=_float(env, "POLICYBOT_ANSWER_THRESHOLD", None),
        max_question_chars=_int(env, "POLICYBOT_MAX_QUESTION_CHARS", Settings.max_question_chars),
        max_citations=_int(env, "POLICYBOT_MAX_CITATIONS", Settings.max_citations, 1, 10),
        citation_floor=_float(env, "POLICYBOT_CITATION_FLOOR", Settings.citation_floor),
        today=today,
        log_questions=_bool(env, "POLICYBOT_LOG_QUESTIONS", False),
        # --- semantic stage (issue 3) ---
        # --- server (issue 4) ---
        # --- escalations (issue 5) ---
    )
