"""Live safeguarding concern detection: questions that must go to the DSL now, not be answered.

A policy answer to "a Year 9 just showed me messages from a man asking to meet her
tonight" would be worse than useless: the only right reply is "speak to the designated
safeguarding lead in person now", and the lead must hear of it at once. So this check
runs before retrieval and wins over any confident answer.

It is a lexicon of the harms schools are trained to recognise (sexual exploitation and
grooming, sextortion, self-harm and suicide, abuse at home, threats of violence and
weapons, radicalisation, a missing child), written for recall: a wrongly urgent question
costs the lead a look; a missed one can cost a child. Sexual-content terms need a child
in the sentence, so a question about staff posting adult material is not urgent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieval.text import normalise

_CHILD = (r"(?:pupil|student|child|children|kid|kiddo|boy|girl|lad|lass|son|daughter|teen|teenager|minor|learner"
          r"|young person|young people|(?:year|yr|y) ?\d{1,2}s?|reception(?:er)?|nursery|toddler|baby|infant"
          r"|niece|nephew|one of (?:our|my|the)|in my class|my class|in (?:my|her|his|the) form|tutee)s?")

_MEDIA = r"(?:pictures?|pics?|photos?|photographs?|images?|videos?|vids?|selfies?|snaps?|messages?|content|material|texts?)"
_SEXUAL_IMAGE = (rf"(?:nudes?|naked|topless|undressed|sexting|sexts?|porn\w*|private parts|genitals?|dick pics?"
                 rf"|(?:explicit|sexual|sexualised|sexy|indecent|rude|dirty|intimate|x-?rated) {_MEDIA})")

# (pattern, needs a child mentioned somewhere in the question)
_PATTERNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "sexual exploitation or grooming": (
        (r"\bgroom(?:ing|ed|s)?\b", True), (r"\bsextortion\b", False), (r"\bsexually exploit\w*", False),
        (r"\b(?:child|criminal|sexual) exploitation\b", False), (r"\bcse\b", False), (r"\bcounty lines\b", False),
        (r"\bsend (?:him|her|them|me|some|pictures|pics|photos|images|videos)\b.{0,40}\b(?:of (?:herself|himself|themselves|yourself)|back|nudes?)\b", False),
        (r"\b(?:asked|asking|ask|asks|wants?|wanted|told|tells|telling) (?:her|him|them|a pupil|a child|a student)\b.{0,30}\b(?:send|meet|keep (?:it )?(?:a )?secret|come round|come over)\b", False),
        (r"\bkeep (?:it|this|them)? ?(?:a )?secret\b", True),
        (r"\bmeet (?:up )?(?:with )?(?:him|her|them|a man|an adult|a stranger|someone)\b.{0,30}\b(?:tonight|today|tomorrow|after school|weekend|alone)\b", True),
        (r"\b(?:a|an|some|this|older|grown|random) (?:man|men|guy|bloke|adult (?:man|male|woman)|stranger|older (?:man|boy|guy|person)|grown (?:man|up|woman))\b.{0,60}\b(?:messag\w*|talking to|chatting|sending|asked|asking|contact\w*|meet|follow\w*|add\w*)\b", True),
        (r"\bonline (?:predator|abuse|exploitation)\b", False), (r"\bupskirt\w*", False), (r"\brevenge porn\b", False),
        (r"\bsexual(?:ly)? (?:abuse|abused|assault|assaulted|touch\w*)\b", False),
        (r"\b(?:touched|touching|touches) (?:her|him|them) inappropriately\b", False),
        (r"\brap(?:e|ed)\b", False), (r"\bmolest\w*", False),
    ),
    "sexual images of a child": (
        (rf"\b{_SEXUAL_IMAGE}\b", True),
    ),
    "blackmail or sextortion": (
        (r"\bblackmail\w*", False),
        (r"\bthreat\w* to (?:post|share|leak|send|release|spread|upload) (?:nudes?|pictures|pics|photos|images|videos|it|them)\b", False),
        (r"\bunless (?:he|she|they) (?:pays?|sends?)\b", False),
    ),
    "self-harm or suicide": (
        (r"\bself[- ]?harm\w*", False), (r"\bsuicid\w*", False),
        (r"\bkill(?:ing)? (?:him|her|them|my)sel(?:f|ves)\b", False), (r"\bend (?:his|her|their|my) (?:own )?life\b", False),
        (r"\b(?:wants|want|wanting|wanted) to die\b", False), (r"\b(?:cutting|hurting|harming) (?:him|her|them)sel(?:f|ves)\b", False),
        (r"\bcuts on (?:his|her|their)\b", False), (r"\boverdos\w*", False), (r"\bhang (?:him|her|them)sel(?:f|ves)\b", False),
        (r"\bnot want(?:ing)? to (?:be alive|live)\b", False),
    ),
    "abuse or neglect": (
        (r"\b(?:being|been|was|were|is|getting|got|gets) (?:hit|beaten|abused|punched|kicked|slapped|hurt|strangled|burned|burnt|locked (?:in|out)|starved)\b", True),
        (r"\b(?:hits|beats|abuses|punches|kicks|slaps|hurts) (?:him|her|them)\b", True),
        (r"\babuse(?:d)? at home\b", False), (r"\bneglect(?:ed|ing)?\b", True),
        (r"\b(?:bruises?|bruising|burns?|injur\w*|marks) on (?:his|her|their)\b", True),
        (r"\b(?:scared|afraid|frightened) (?:to go|of going) home\b", False), (r"\bnot safe at home\b", False),
        (r"\bdomestic (?:violence|abuse)\b", False), (r"\bfgm\b", False), (r"\bfemale genital\b", False),
        (r"\bforced marriage\b", False), (r"\b(?:physical|emotional|sexual)(?:ly)? abus\w*", False),
        (r"\bno food at home\b", False), (r"\b(?:child|children) (?:at risk|in danger)\b", False),
    ),
    "threat of violence or weapon": (
        (r"\b(?:knife|knives|gun|guns|firearm|weapon|weapons|machete|blade|bomb|explosive)\b.{0,60}\b(?:school|bring\w*|class|tomorrow|today|tonight|threat\w*|kill|stab|shoot|attack|carrying|has|had|got)\b", False),
        (r"\b(?:bring\w*|carrying|carry|has|had|got) (?:a |an )?(?:knife|gun|weapon|blade|machete)\b", False),
        (r"\b(?:threat\w*|going) to (?:kill|stab|shoot|hurt|attack|beat up|bomb)\b", False), (r"\bschool shooting\b", False),
        (r"\bkill (?:you|him|her|them|everyone|a teacher|the teacher|staff|a pupil)\b", False),
        (r"\b(?:stab|shoot) (?:up )?(?:you|him|her|them|everyone|the school|a teacher|staff)\b", False),
        (r"\bdeath threats?\b", False),
    ),
    "radicalisation": (
        (r"\bradicali[sz]\w*", True), (r"\bextremis\w*", True), (r"\bterroris\w*", True), (r"\bjihad\w*", True),
        (r"\bneo-?nazi\w*", True),
    ),
    "missing child": (
        (rf"\b{_CHILD}\b.{{0,40}}\b(?:is missing|has gone missing|went missing|gone missing|ran away|run away|runaway|not come home|hasn'?t come home|didn'?t come home)\b", False),
    ),
}

_CHILD_RE = re.compile(rf"\b{_CHILD}\b")
_COMPILED = {name: tuple((re.compile(p), needs_child) for p, needs_child in pats) for name, pats in _PATTERNS.items()}


@dataclass(frozen=True)
class Concern:
    category: str
    evidence: str  # the matched words, for the lead's card; never logged


def detect(question: str) -> Concern | None:
    """The first live-concern category the question reports, or None."""
    text = normalise(question)
    has_child = bool(_CHILD_RE.search(text))
    for category, patterns in _COMPILED.items():
        for pattern, needs_child in patterns:
            if needs_child and not has_child:
                continue
            m = pattern.search(text)
            if m:
                return Concern(category, m.group(0))
    return None
