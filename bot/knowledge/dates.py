"""The title, adoption, last-review and next-review dates a policy states about itself.

Policies write these in many ways ("adopted this Guidance on 20.01.2022", "Date Approved by
Governing Body: June 2020", "Next Review Due: Term 6 – 2020/21", "Review Cycle/ Next
Review: Bi-Annually/ Autumn 2026", "The policy is to be reviewed on December 2026"); each
date is kept as written, since the knowledge base shows it as written and
`load.parse_review_date` reads it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_SEASONS = "spring|summer|autumn|winter"
DATE = (r"(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTHS + r")\s+\d{4}"
        r"|\d{1,2}[./-]\d{1,2}[./-]\d{4}"
        r"|\d{4}-\d{2}-\d{2}"
        r"|(?:" + _MONTHS + "|" + _SEASONS + r")(?:\s+term)?\s+\d{4}(?:/\d{2,4})?"
        r"|term\s+\d\s*[-\u2013\u2014]?\s*\d{4}/\d{2,4}"
        r"|\d{4}/\d{2,4})")
_DATE = re.compile(DATE, re.I)

# Most specific first: "to be reviewed on" is the next review, "Policy Reviewed:" the last one.
_LABELS = (
    ("next_review", re.compile(r"next\s+review|review\s+(?:due|date)|(?:to|will)\s+be\s+reviewed|"
                               r"review(?:ed)?\s+by\s*:|renewal\s+date", re.I)),
    ("reviewed", re.compile(r"last\s+review|date\s+of\s+(?:last\s+)?review|(?:policy\s+)?reviewed\b|"
                            r"review(?:ed)?\s+by\s+the\b", re.I)),
    ("adopted", re.compile(r"adopted|approved|ratified|date\s+of\s+approval|agreed\s+by|effective\s+from", re.I)),
)
_TITLE_LABEL = re.compile(r"(?:policy\s+)?title\s*:\s*(?P<title>.+)$", re.I)
_TITLE_WORD = re.compile(r"\b(policy|guidance|procedures?|guidelines|code\s+of\s+conduct)\b", re.I)
_DATE_REACH = 90  # characters after a label in which its date must appear


@dataclass
class Metadata:
    title: str = ""
    adopted: str = ""
    reviewed: str = ""
    next_review: str = ""
    found_in: dict[str, str] = field(default_factory=dict)  # field -> the line it was read from

    def missing(self) -> list[str]:
        return [k for k in ("title", "adopted", "next_review") if not getattr(self, k)]


def find_metadata(lines: list[str], title_style: str = "", head: int = 40) -> Metadata:
    """Read from the document's lines (title page first); a field is taken from the first line
    that states it. The title is looked for in the first `head` lines only."""
    meta = Metadata()
    for line in lines:
        text = " ".join(line.replace("**", "").split())
        if not text:
            continue
        taken: list[tuple[int, int]] = []
        for key, label in _LABELS:
            for m in label.finditer(text):
                if any(a <= m.start() < b for a, b in taken):
                    continue
                window = text[m.end():m.end() + _DATE_REACH]
                # The date belongs to this label only if no other label stands between them.
                d = _DATE.search(window)
                if not d or any(other.search(window[:d.start()]) for k2, other in _LABELS if k2 != key):
                    continue
                if re.search(r"[.;]\s", window[:d.start()]):
                    continue  # the date is in the next sentence
                if not getattr(meta, key):
                    setattr(meta, key, d.group(0).strip())
                    meta.found_in[key] = text
                taken.append((m.start(), m.end() + d.end()))
                break
    meta.title = _find_title(lines[:head], title_style)
    if meta.title:
        meta.found_in.setdefault("title", meta.title)
    return meta


def _find_title(lines: list[str], title_style: str) -> str:
    for line in lines:
        if m := _TITLE_LABEL.search(" ".join(line.replace("**", "").split())):
            return m["title"].strip()
    if title_style:
        return title_style
    for line in lines:
        text = " ".join(line.replace("**", "").replace("#", "").split())
        words = text.split()
        if not words or len(words) > 12 or text.endswith(".") or ":" in text or _DATE.search(text):
            continue
        if re.match(r"(this|the\s+policy|date|next)\b", text, re.I):
            continue
        if _TITLE_WORD.search(text):
            return text
    return ""
