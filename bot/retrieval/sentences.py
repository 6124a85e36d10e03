"""A question split into the sentences it is made of.

Staff wrap a question in a story: "Hi all, bit of an odd one. I run the Year 8 netball
team... one of the girls said her coach told her to keep their chats secret. Can I post the
fixtures on my own Insta?" The part that matters can be one sentence of five, and a
whole-question embedding averages it away. Scoring each sentence as well as the whole lets
the strongest sentence count. Chat often has no full stops, so line breaks, semicolons and
spaced dashes split too; pieces under three words ("Hi all", "Thanks!") are dropped, and a
very long unpunctuated run is cut into overlapping windows of words.

Sentences are returned as character spans of the original text, so an encoder can pool each
one from a single pass over the whole question (Encoder.encode_spans).
"""
from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[.!?\u2026])[\"')\]]*\s+|\n+|\s*;\s+|\s+[-\u2013\u2014]+\s+|(?<=\w)\s*\.{2,}\s*")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_TOKEN = re.compile(r"\S+")
_TRIM = " \t\"'"
MIN_WORDS = 3
WINDOW_WORDS = 30  # a run longer than this (no punctuation at all) is windowed
MAX_SENTENCES = 24  # a bound on the work one question can cause


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence with at least MIN_WORDS words, in order, at most
    MAX_SENTENCES; a sentence longer than WINDOW_WORDS words becomes overlapping windows."""
    text = text or ""
    spans, start = [], 0
    for boundary in [*_BOUNDARY.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        a, b = start, end
        while a < b and text[a] in _TRIM:
            a += 1
        while b > a and text[b - 1] in _TRIM:
            b -= 1
        if len(_WORD.findall(text[a:b])) >= MIN_WORDS:
            spans.extend(_windows(text, a, b))
        if boundary:
            start = boundary.end()
    return spans[:MAX_SENTENCES]


def split_sentences(text: str) -> list[str]:
    """The sentences themselves. A one-sentence question gives one item, the question."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _windows(text: str, a: int, b: int) -> list[tuple[int, int]]:
    tokens = [(m.start() + a, m.end() + a) for m in _TOKEN.finditer(text[a:b])]
    if len(tokens) <= WINDOW_WORDS:
        return [(a, b)]
    step = WINDOW_WORDS // 2
    return [(tokens[i][0], tokens[min(i + WINDOW_WORDS, len(tokens)) - 1][1])
            for i in range(0, len(tokens) - step, step)]
