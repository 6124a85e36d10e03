"""Answer -> plain text / markdown. Adapters render the same Answer as Block Kit or cards.

Markdown-light on purpose (bold with **, quotes with >), readable as plain text in a
terminal and as markdown in a web page.
"""
from __future__ import annotations

import re

from .decide.answer import AMBIGUOUS, ANSWER, URGENT, Answer, Citation

_TAG = re.compile(r"<[^>]+>")

STANCE_WORDS = {
    "must not": "not allowed",
    "should not": "should not",
    "advised against": "advised against",
    "must": "required",
    "should": "recommended",
    "may": "allowed",
    "information": "for information",
}


def clause_plain(text: str) -> str:
    """Clause text for display: the source's HTML links and emphasis marks dropped, words kept."""
    return _TAG.sub("", text).replace("**", "")


def citation_label(c: Citation) -> str:
    return f"{c.policy}, section {c.clause_id} ({c.section}); stance: {STANCE_WORDS.get(c.stance, c.stance)}"


def _quotes(citations: tuple[Citation, ...]) -> list[str]:
    """Each clause quoted; bullets sharing a lead-in show it once, so a clause like
    "our school;" still reads as "Staff must not post disparaging statements about: our school;"."""
    blocks, shown_lead_in = [], None
    for c in citations:
        lines = []
        if c.lead_in and c.lead_in != shown_lead_in:
            lines.append(f"> {clause_plain(c.lead_in)}")
        lines.append(f">   - {clause_plain(c.text)}" if c.lead_in else f"> {clause_plain(c.text)}")
        lines.append(f"  [{citation_label(c)}]")
        shown_lead_in = c.lead_in or None
        blocks.append("\n".join(lines))
    return blocks


# The steps every urgent reply gives, in the order staff are trained to take them (KCSIE Part
# one): go to the DSL now, 999 if a child is in danger, then the category's own advice from the
# concern bank, then what not to do. Short enough to read in ten seconds.
DONT_INVESTIGATE = "Don't investigate or promise to keep it secret; note what was said in the child's words."


def urgent_headline(answer: Answer) -> str:
    return f"This sounds like a live safeguarding concern ({answer.concern or 'a child at risk'})."


def urgent_steps(answer: Answer) -> list[str]:
    """The urgent reply's steps, shared by the console, the web chat, Slack and Teams."""
    people = " or ".join(dict.fromkeys(c.display for c in (answer.lead, answer.deputy)))
    return [f"Go to {people} in person now; don't wait for a reply here. If a child is in immediate "
            f"danger, call 999.", *answer.advice, DONT_INVESTIGATE]


def render_text(answer: Answer) -> str:
    lead = answer.lead.display
    if answer.decision == URGENT:
        others = " and ".join(c.display for c in answer.contacts)
        steps = "\n".join(f"- {step}" for step in urgent_steps(answer))
        return (f"**{urgent_headline(answer)}**\n{steps}\n"
                f"This goes straight to {others} at {answer.school_name}, marked urgent.")
    parts = []
    if answer.decision == ANSWER and answer.reason == AMBIGUOUS:
        parts.append(f"Your question could be about more than one situation in {answer.school_name}'s policy. "
                     f"Did you mean:")
        for c in answer.citations:
            parts.append(f"**{c.situation}?**\n" + _quotes((c,))[0])
    elif answer.decision == ANSWER:
        policies = sorted({c.policy for c in answer.citations})
        parts.append(f"**{answer.school_name}**, {', '.join(policies)}, says:")
        parts.extend(_quotes(answer.citations))
    elif answer.reason == "out_of_scope":
        parts.append(f"I only answer questions about {answer.school_name}'s social-media and online-safety "
                     f"policy, and this doesn't look like one, so it goes to {lead} to answer.")
    else:
        parts.append(f"I can't answer that with confidence from {answer.school_name}'s policy, "
                     f"so it goes to {lead} to answer.")
        if answer.citations:
            parts.append("The closest clauses I found (they may not answer your question):")
            parts.extend(_quotes(answer.citations))
    for w in answer.review_warnings:
        parts.append(f"Note: {w.policy} was due for review in {w.next_review} (by {w.due:%d %B %Y}); "
                     f"check with {lead} that it is still current.")
    if answer.decision == ANSWER:
        parts.append(f"Confidence {answer.confidence:.0%}. Not what you needed? Ask {lead}.")
    return "\n\n".join(parts)


def answer_json(answer: Answer, qid=None) -> dict:
    """The batch contract, shared by `policybot batch`, `ask --json` and the web API (keep it
    stable: outside evaluation reads it)."""
    return {
        "id": qid, "school": answer.school, "decision": answer.decision, "confidence": answer.confidence,
        "citations": [c.as_dict() for c in answer.citations],
        "lead": answer.lead.as_dict(),
        "contacts": [c.as_dict() for c in answer.contacts],
        "reason": answer.reason,
        "review_warnings": [w.as_dict() for w in answer.review_warnings],
        "text": render_text(answer),
    }
