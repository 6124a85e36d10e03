"""The stance a clause takes, read from its modal verbs.

Staff care less about the topic than about whether a thing is banned, discouraged or
allowed; the stance label lets every renderer say that in one word. Authors can
override it per clause in the knowledge base when the wording misleads this reader.
"""
from __future__ import annotations

import re

PROHIBITED = "must not"
ADVISED_AGAINST = "advised against"
SHOULD_NOT = "should not"
REQUIRED = "must"
RECOMMENDED = "should"
PERMITTED = "may"
INFORMATION = "information"

STANCES = (PROHIBITED, SHOULD_NOT, ADVISED_AGAINST, REQUIRED, RECOMMENDED, PERMITTED, INFORMATION)

_ADVISORY = re.compile(
    r"\badvised?\s+(?:staff\s+)?not\b|\badvised? against\b|\bnot (?:be )?(?:recommended|advisable)\b|\b(?:it is )?advised that they do not\b|\bdiscouraged\b"
    r"|\bcaution is advised\b|\brarely appropriate\b")

# Checked in this order on the text with advisory phrases removed: strongest first.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (PROHIBITED, re.compile(
        r"\bmust\s+(?:not|never)\b|\bmustn'?t\b|\bcannot\b|\bcan\s+not\b|\bnever\b|\bunder no circumstances\b"
        r"|\bprohibited\b|\bnot\s+(?:be\s+)?permitted\b|\bnot\s+permit\b"
        r"|\bwill amount to gross misconduct\b|\bnot be tolerated\b|\bmust only\b|\bcan only\b"
        r"|\bdo not\b(?!\s+necessarily)")),
    (SHOULD_NOT, re.compile(r"\bshould\s+not\b|\bshouldn'?t\b|\bshould never\b|\bnot be used\b")),
    (REQUIRED, re.compile(r"\bmust\b|\bare required\b|\bis required\b|\bwill be required\b|\bare expected to\b"
                          r"|\bis essential\b|\bhas to\b|\bhave to\b")),
    (RECOMMENDED, re.compile(r"\bshould\b|\bstrongly advised\b|\bare advised to\b|\bencouraged\b"
                             r"|\bit is a good idea\b|\bremember\b|\bbe mindful\b|\bconsider\b")),
    (PERMITTED, re.compile(r"\bmay\b|\bis permitted\b|\bare permitted\b|\bcan\b|\bacceptable\b"
                           r"|\bentitled\b|\bdoes not (?:seek to )?prevent\b|\bdoes not discourage\b")),
)


def classify(text: str, lead_in: str = "") -> str:
    """Stance of a clause; a bullet inherits its lead-in's modal verb when it has none of its own."""
    own = _first_match(text)
    if own is not None:
        return own
    inherited = _first_match(lead_in) if lead_in else None
    return inherited or INFORMATION


def _first_match(text: str) -> str | None:
    lowered = " ".join(text.replace("**", "").replace("\u2019", "'").lower().split())
    stripped = _ADVISORY.sub(" ", lowered)
    advisory = stripped != lowered
    for stance, pattern in _RULES:
        if stance == REQUIRED and advisory:
            return ADVISED_AGAINST
        if pattern.search(stripped):
            return stance
    return ADVISED_AGAINST if advisory else None
