"""The short answer before the quotes: what the cited clauses' stances say, in one line.

Staff read the first line and stop, so it must be the policy's own position, never a guess:
it is built only from the cited clauses' stance labels (decide/stance.py) and the start of
each clause's own words, never from the question or from a paraphrase. When the quoted
clauses take different positions, it says so rather than choosing one.
"""
from __future__ import annotations

import re

from . import stance

# The headline word for each stance; "information" clauses state no position of their own.
HEADLINE_WORDS = {
    stance.PROHIBITED: "Not allowed",
    stance.SHOULD_NOT: "Advised against",
    stance.ADVISED_AGAINST: "Advised against",
    stance.REQUIRED: "Required",
    stance.RECOMMENDED: "Recommended",
    stance.PERMITTED: "Allowed",
}
_CONDITIONAL = ("if ", "provided", "as long as", "only ", "unless", "with the permission", "with permission",
                "where ", "when ")


SHORT_CHARS = 90


def short(text: str, limit: int = SHORT_CHARS) -> str:
    """The clause's first sentence, cut at a word near `limit` characters (verbatim, marked when cut)."""
    plain = " ".join(re.sub(r"<[^>]+>", "", text).replace("**", "").split())
    first = re.split(r"(?<=[.;:])\s", plain, maxsplit=1)[0].rstrip(".;:")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _word(clause_stance: str, text: str) -> str:
    word = HEADLINE_WORDS[clause_stance]
    if clause_stance == stance.PERMITTED and any(c in text.lower() for c in _CONDITIONAL):
        return "Allowed if the conditions below are met"
    return word


def headline(citations) -> str:
    """'Not allowed: "<the clause's first words>" (section 5.4).', or 'Your policy gives two rules here: ...' when
    the quoted clauses take different positions; '' when none of them states a position."""
    stated = [c for c in citations if c.stance in HEADLINE_WORDS]
    if not stated:
        return ""
    positions = list(dict.fromkeys(_word(c.stance, c.text) for c in stated))
    if len(positions) == 1:
        first = stated[0]
        return f"{positions[0]}: \"{short(first.text)}\" (section {first.clause_id})."
    parts = []
    for position in positions[:2]:
        c = next(c for c in stated if _word(c.stance, c.text) == position)
        parts.append(f"{position.lower()}, section {c.clause_id} (\"{short(c.text, 60)}\")")
    count = "two" if len(positions) == 2 else "several"
    return f"Your policy gives {count} rules here: " + "; ".join(parts) + "."
