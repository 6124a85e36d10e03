"""The lexicon layer of live-concern detection: patterns of the harms schools are trained
to recognise, precise and explainable.

A policy answer to "a Year 9 just showed me messages from a man asking to meet her
tonight" would be worse than useless: the only right reply is "speak to the designated
safeguarding lead in person now". This layer is one of two (see `concern.py`).

Each pattern is a *report* (words that describe something happening to a child: "says
daddy hits her", "has gone missing", "wants to die"), which raises urgent on its own, or a
*topic* (a harm's name: suicide, nudes, grooming, extremism), which is also how a PSHE
lesson, an awareness post or a past case is described, so it needs the semantic layer to
agree. Sexual-content words count only when a child is mentioned, so a question about
staff posting adult material is not urgent. Categories are the concern bank's slugs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieval.text import normalise

REPORT, TOPIC = "report", "topic"

_CHILD = (r"(?:pupil|student|child|children|kid|kiddo|boy|girl|lad|lass|son|daughter|teen|teenager|minor|learner"
          r"|young person|young people|(?:year|yr|y) ?\d{1,2}s?|reception(?:er)?|nursery|toddler|baby|infant"
          r"|niece|nephew|one of (?:our|my|the)|in my class|my class|in (?:my|her|his|the) form|tutee)s?")

_MEDIA = r"(?:pictures?|pics?|photos?|photographs?|images?|videos?|vids?|selfies?|snaps?|messages?|content|material|texts?)"
_SEXUAL_IMAGE = (rf"(?:nudes?|naked|topless|undressed|sexting|sexts?|porn\w*|private parts|genitals?|dick pics?"
                 rf"|(?:explicit|sexual|sexualised|sexy|indecent|rude|dirty|intimate|x-?rated) {_MEDIA})")

# category -> (pattern, needs a child mentioned somewhere in the question, report | topic)
_PATTERNS: dict[str, tuple[tuple[str, bool, str], ...]] = {
    "grooming": (
        (r"\bgroom(?:ing|ed|s)?\b", True, TOPIC), (r"\bsexually exploit\w*", False, TOPIC),
        (r"\b(?:child|sexual) exploitation\b", False, TOPIC), (r"\bcse\b", False, TOPIC),
        (r"\bsend (?:him|her|them|me|some|pictures|pics|photos|images|videos)\b.{0,40}\b(?:of (?:herself|himself|themselves|yourself)|back|nudes?)\b", False, REPORT),
        (r"\b(?:asked|asking|ask|asks|wants?|wanted|told|tells|telling) (?:her|him|them|a pupil|a child|a student)\b.{0,30}\b(?:send|meet|keep (?:it )?(?:a )?secret|come round|come over)\b", False, REPORT),
        (r"\bkeep (?:it|this|them)? ?(?:a )?secret\b", True, REPORT),
        (r"\bmeet (?:up )?(?:with )?(?:him|her|them|a man|an adult|a stranger|someone)\b.{0,30}\b(?:tonight|today|tomorrow|after school|weekend|alone)\b", True, REPORT),
        (r"\b(?:a|an|some|this|older|grown|random) (?:man|men|guy|bloke|adult (?:man|male|woman)|stranger|older (?:man|boy|guy|person)|grown (?:man|up|woman))\b.{0,60}\b(?:messag\w*|talking to|chatting|sending|asked|asking|contact\w*|meet|follow\w*|add\w*)\b", True, REPORT),
        (r"\bonline (?:predator|abuse|exploitation)\b", False, TOPIC), (r"\bupskirt\w*", False, TOPIC),
        (r"\brevenge porn\b", False, TOPIC),
        (r"\bsexual(?:ly)? (?:abuse|abused|assault|assaulted|touch\w*)\b", False, TOPIC),
        (r"\b(?:touched|touching|touches) (?:her|him|them) inappropriately\b", False, REPORT),
        (r"\brap(?:e|ed)\b", False, TOPIC), (r"\bmolest\w*", False, TOPIC),
    ),
    "images": (
        (rf"\b{_SEXUAL_IMAGE}\b", True, TOPIC),
    ),
    "sextortion": (
        (r"\bsextortion\b", False, TOPIC), (r"\bblackmail\w*", False, TOPIC),
        (r"\bthreat\w* to (?:post|share|leak|send|release|spread|upload) (?:nudes?|pictures|pics|photos|images|videos|it|them)\b", False, REPORT),
        (r"\bunless (?:he|she|they) (?:pays?|sends?)\b", False, REPORT),
    ),
    "self-harm": (
        (r"\bself[- ]?harm\w*", False, TOPIC), (r"\bsuicid\w*", False, TOPIC),
        (r"\bkill(?:ing)? (?:him|her|them|my)sel(?:f|ves)\b", False, REPORT),
        (r"\bend (?:his|her|their|my) (?:own )?life\b", False, REPORT),
        (r"\b(?:wants|want|wanting|wanted) to die\b", False, REPORT),
        (r"\b(?:cutting|hurting|harming) (?:him|her|them)sel(?:f|ves)\b", False, REPORT),
        (r"\bcuts on (?:his|her|their)\b", False, REPORT), (r"\boverdos\w*", False, TOPIC),
        (r"\bhang (?:him|her|them)sel(?:f|ves)\b", False, REPORT),
        (r"\bnot want(?:ing)? to (?:be alive|live)\b", False, REPORT),
    ),
    "abuse-neglect": (
        (r"\b(?:being|been|was|were|is|getting|got|gets) (?:hit|beaten|abused|punched|kicked|slapped|hurt|strangled|burned|burnt|locked (?:in|out)|starved)\b", True, REPORT),
        (r"\b(?:hits|beats|abuses|punches|kicks|slaps|hurts) (?:him|her|them)\b", True, REPORT),
        (r"\babuse(?:d)? at home\b", False, REPORT), (r"\bneglect(?:ed|ing)?\b", True, TOPIC),
        (r"\b(?:bruises?|bruising|burns?|injur\w*|marks) on (?:his|her|their)\b", True, REPORT),
        (r"\b(?:scared|afraid|frightened) (?:to go|of going) home\b", False, REPORT),
        (r"\bnot safe at home\b", False, REPORT),
        (r"\bdomestic (?:violence|abuse)\b", False, TOPIC), (r"\bfgm\b", False, TOPIC),
        (r"\bfemale genital\b", False, TOPIC), (r"\bforced marriage\b", False, TOPIC),
        (r"\b(?:physical|emotional|sexual)(?:ly)? abus\w*", False, TOPIC),
        (r"\bno food at home\b", False, REPORT), (r"\b(?:child|children) (?:at risk|in danger)\b", False, TOPIC),
    ),
    "violence": (
        (r"\b(?:knife|knives|gun|guns|firearm|weapon|weapons|machete|blade|bomb|explosive)\b.{0,60}\b(?:school|bring\w*|class|tomorrow|today|tonight|threat\w*|kill|stab|shoot|attack|carrying|has|had|got)\b", False, TOPIC),
        (r"\b(?:bring\w*|carrying|carry|has|had|got) (?:a |an )?(?:knife|gun|weapon|blade|machete)\b", False, REPORT),
        (r"\b(?:threat\w*|going) to (?:kill|stab|shoot|hurt|attack|beat up|bomb)\b", False, REPORT),
        (r"\bschool shooting\b", False, TOPIC),
        (r"\bkill (?:you|him|her|them|everyone|a teacher|the teacher|staff|a pupil)\b", False, REPORT),
        (r"\b(?:stab|shoot) (?:up )?(?:you|him|her|them|everyone|the school|a teacher|staff)\b", False, REPORT),
        (r"\bdeath threats?\b", False, TOPIC),
    ),
    "criminal": (
        (r"\b(?:criminal exploitation|county lines)\b", False, TOPIC),
    ),
    "radicalisation": (
        (r"\bradicali[sz]\w*", True, TOPIC), (r"\bextremis\w*", True, TOPIC), (r"\bterroris\w*", True, TOPIC),
        (r"\bjihad\w*", True, TOPIC), (r"\bneo-?nazi\w*", True, TOPIC),
    ),
    "missing": (
        (rf"\b{_CHILD}\b.{{0,40}}\b(?:is missing|has gone missing|went missing|gone missing|ran away|run away|runaway|not come home|hasn'?t come home|didn'?t come home)\b", False, REPORT),
    ),
}

# A harm's name with the grammar of a disclosure about now ("she is self-harming", "he has been
# groomed", "feels suicidal") is a report, not a topic.
_NOW = r"(?:is|are|'s|'re|has been|have been|is being|are being|'s being|keeps?|started|starting|admitted to)"
_DISCLOSED = {
    "grooming": r"groom(?:ed|ing)", "sextortion": r"blackmail(?:ed|ing)", "self-harm": r"self[- ]?harm(?:ing)?",
    "abuse-neglect": r"(?:abused|neglected|beaten)", "radicalisation": r"radicali[sz]ed", "criminal": r"exploited",
}
for _category, _words in _DISCLOSED.items():
    _PATTERNS[_category] = ((rf"\b{_NOW} {_words}\b", False, REPORT),) + _PATTERNS[_category]
_PATTERNS["self-harm"] = ((r"\b(?:feels?|feeling|felt|is|'s|sounds?) suicidal\b", False, REPORT),) + _PATTERNS["self-harm"]

_CHILD_RE = re.compile(rf"\b{_CHILD}\b")
_COMPILED = {cat: tuple((re.compile(p), child, kind) for p, child, kind in pats) for cat, pats in _PATTERNS.items()}
CATEGORIES = tuple(_PATTERNS)


@dataclass(frozen=True)
class Match:
    category: str
    kind: str       # REPORT or TOPIC
    evidence: str   # the matched words, for the lead's card; never logged


def match(question: str) -> Match | None:
    """The lexicon's strongest match: the first report pattern, else the first topic word."""
    text = normalise(question)
    has_child = bool(_CHILD_RE.search(text))
    topic: Match | None = None
    for category, patterns in _COMPILED.items():
        for pattern, needs_child, kind in patterns:
            if needs_child and not has_child:
                continue
            if kind == TOPIC and topic is not None:
                continue
            m = pattern.search(text)
            if m:
                if kind == REPORT:
                    return Match(category, kind, m.group(0))
                topic = Match(category, kind, m.group(0))
    return topic
