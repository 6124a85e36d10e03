"""Tokenising, stemming and normalising text the same way for clauses and questions.

Both sides of the index must go through exactly the same analysis, so it lives in
one place. Stemming is Snowball English (PyStemmer), never hand-written suffix rules.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_FOLDS = (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'),
          ("\u2013", "-"), ("\u2014", "-"), ("\u00a0", " "), ("\u2022", "-"), ("\u27a4", "-"))


def fold_punctuation(text: str) -> str:
    """Curly quotes, dashes, bullets and no-break spaces as their ASCII forms. One str.replace
    per character rather than str.translate: translate looks every character of a non-ASCII
    text up one by one, which was a tenth of `kb check` on a trust's 500 source texts."""
    if text.isascii():
        return text
    for char, ascii_form in _FOLDS:
        if char in text:
            text = text.replace(char, ascii_form)
    return text

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")

# Function words plus the filler of chat questions ("hey, is it ok if i just...").
# Kept small on purpose: a content word wrongly dropped costs more than a filler kept.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being
below between both but by can cant could couldnt did didnt do does doesnt doing dont down during each
few for from further had hadnt has hasnt have havent having he hed hes her here hers herself him
himself his how i id ill im ive if in into is isnt it its itself just lets me more most my myself
no nor not of off on once only or other ought our ours ourselves out over own same shant she shed
shes should shouldnt so some such than that thats the their theirs them themselves then there theres
these they theyd theyll theyre theyve this those through to too under until up very was wasnt we wed
well were weve werent what whats when where wheres which while who whos whom why whys will with wont
would wouldnt you youd youll youre youve your yours yourself yourselves
ok okay hi hey hello please pls plz thanks thank cheers really actually basically like yeah yes
anyone anybody someone somebody something anything thing things get got gonna wanna am
allowed allow able may might must shall need want wants wanted also still ever even bit lot lots
know sure quick question wondering wonder mean use using used
""".split())


def normalise(text: str) -> str:
    """Lower-case, ASCII quotes and dashes, no markup: the form every comparison uses."""
    text = fold_punctuation(unicodedata.normalize("NFKC", text or ""))
    text = _TAG.sub(" ", text).replace("**", "").replace("*", "")
    return re.sub(r"\s+", " ", text).strip().lower()


def words(text: str) -> list[str]:
    """Word tokens of normalised text; "pupils'" and "don't" fold to one word each."""
    return _WORD.findall(_APOSTROPHE.sub("", normalise(text)).replace("'", " "))


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def analyse(text: str) -> list[str]:
    """Content-word stems: the tokens the BM25 index and queries are built from."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def collapse_ws(text: str) -> str:
    """Whitespace folded to single spaces: how 'verbatim' is checked across line wraps."""
    # str.split() splits on exactly the characters the regex \s matches (both use Unicode's
    # whitespace test) and is several times faster.
    return " ".join(fold_punctuation(text or "").split())
