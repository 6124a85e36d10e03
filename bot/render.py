"""Answer -> plain text / markdown. Adapters render the same Answer as Block Kit or cards.

Markdown-light on purpose (bold with **, quotes with >), readable as plain text in a
terminal and as markdown in a web page.
"""
from __future__ import annotations

import re

from dataclasses import replace

from .decide.answer import AMBIGUOUS, ANSWER, ESCALATE, OUT_OF_SCOPE, URGENT, Answer, Citation
from .escalations.delivery import DELIVERED, NOBODY, NOT_RECORDED, QUEUED, Delivery
from .escalations.reach import CHANNEL_WORDS

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


# What every bundled policy is about, for the reply to an off-topic question.
COVERS = ("your own social media and messaging, contact with pupils and parents online, photos and "
          "videos of pupils, and the school's online reputation")


def urgent_headline(answer: Answer) -> str:
    return f"This sounds like a live safeguarding concern ({answer.concern or 'a child at risk'})."


def urgent_steps(answer: Answer) -> list[str]:
    """The urgent reply's steps, shared by the console, the web chat, Slack and Teams."""
    people = " or ".join(dict.fromkeys(c.display for c in (answer.lead, answer.deputy)))
    return [f"Go to {people} in person now; don't wait for a reply here. If a child is in immediate "
            f"danger, call 999.", *answer.advice, DONT_INVESTIGATE]


def as_escalation(answer: Answer) -> Answer:
    """An answer the asker chose to send to the lead ("Ask <lead>"), worded as an escalation
    (an urgent one stays urgent)."""
    return answer if answer.decision == URGENT else replace(answer, decision=ESCALATE)


def delivery_line(answer: Answer, d: Delivery | None) -> str:
    """What happened to the question, as it happened: told whom and how, still trying, or not
    sent with what to do instead. Nothing here claims a notice that no notifier accepted."""
    urgent = answer.decision == URGENT
    lead = answer.lead.display
    people = " or ".join(dict.fromkeys(c.display for c in (answer.lead, answer.deputy)))
    instead = f"go to {people} in person now" if urgent else f"please ask {lead} directly"
    if d is None:
        if urgent:
            return ""
        if answer.reason == OUT_OF_SCOPE:  # not sent unasked (decide.answer.sent_unasked)
            return f"It has not been sent to anyone. If it is a question for {lead}, ask them anyway."
        return f"If you need an answer, ask {lead}."
    ref = f" (ref {d.escalation_id})" if d.escalation_id else ""

    def who(notices) -> str:
        return ", ".join(f"{n.name} by {CHANNEL_WORDS.get(n.channel, n.channel)}" for n in notices)

    if d.state == DELIVERED:
        still = f"; still trying {who(d.waiting)}" if d.waiting else ""
        if urgent:
            return f"policybot has told {who(d.delivered_to)}, marked urgent{still}{ref}. Go to them in person anyway."
        return f"Sent to {who(d.delivered_to)}{still}{ref}; their answer will appear here."
    if d.state == QUEUED:
        if urgent:
            return (f"policybot is still trying to reach {who(d.waiting)}{ref}; nothing has been delivered yet, "
                    f"so {instead}.")
        return f"Queued for {who(d.waiting)}{ref}; policybot keeps trying, and their answer will appear here."
    if d.state == NOBODY:
        kept = f" It is recorded{ref} for when they look." if d.escalation_id else ""
        if urgent:
            return f"policybot could not notify anyone (no way to reach them is set up here): {instead}.{kept}"
        return (f"Not sent: policybot has no way to reach {lead} here (no Slack, Teams or email address is "
                f"set up for them), so {instead}.{kept}")
    if d.state == NOT_RECORDED:
        why = f" ({d.error})" if d.error else ""
        if urgent:
            return f"policybot could not record or send this{why}: {instead}."
        return f"Not sent: policybot could not record your question{why}, so {instead}."
    # NOT_SENT_HERE: the command line records and sends nothing.
    return f"policybot does not send anything from the command line: {instead}."


def render_text(answer: Answer, delivery: Delivery | None = None) -> str:
    """The reply as text. `delivery`: what happened to the escalation, for urgent and escalated
    answers (None: the channel has not escalated it, and the reply claims nothing)."""
    lead = answer.lead.display
    if answer.decision == URGENT:
        steps = "\n".join(f"- {step}" for step in urgent_steps(answer))
        line = delivery_line(answer, delivery)
        return f"**{urgent_headline(answer)}**\n{steps}" + (f"\n{line}" if line else "")
    parts = []
    if answer.decision == ANSWER and answer.reason == AMBIGUOUS:
        if answer.headline:
            parts.append(f"**{answer.headline}**")
        parts.append(f"Your question could be about more than one situation in {answer.school_name}'s policy. "
                     f"Did you mean:")
        for c in answer.citations:
            parts.append(f"**{c.situation}?**\n" + _quotes((c,))[0])
    elif answer.decision == ANSWER:
        policies = sorted({c.policy for c in answer.citations})
        if answer.headline:
            parts.append(f"**{answer.headline}**")
        parts.append(f"**{answer.school_name}**, {', '.join(policies)}, says:")
        parts.extend(_quotes(answer.citations))
    else:
        if answer.reason == OUT_OF_SCOPE:
            parts.append(f"I only answer questions about {answer.school_name}'s social-media and online-safety "
                         f"policy ({COVERS}), and this doesn't look like one.")
        else:
            parts.append(f"I can't answer that with confidence from {answer.school_name}'s policy.")
        parts.append(delivery_line(answer, delivery))
        if answer.citations:
            parts.append("The closest clauses I found (they may not answer your question):")
            parts.extend(_quotes(answer.citations))
    for w in answer.review_warnings:
        parts.append(f"Note: {w.policy} was due for review in {w.next_review} (by {w.due:%d %B %Y}); "
                     f"check with {lead} that it is still current.")
    if answer.decision == ANSWER:
        parts.append(f"Confidence {answer.confidence:.0%}. Not what you needed? Ask {lead}.")
    return "\n\n".join(parts)


def answer_json(answer: Answer, qid=None, delivery: Delivery | None = None) -> dict:
    """The batch contract, shared by `policybot batch`, `ask --json` and the web API (keep it
    stable: outside evaluation reads it). `delivery` adds what happened to the escalation."""
    out = {
        "id": qid, "school": answer.school, "decision": answer.decision, "confidence": answer.confidence,
        "citations": [c.as_dict() for c in answer.citations],
        "lead": answer.lead.as_dict(),
        "contacts": [c.as_dict() for c in answer.contacts],
        "reason": answer.reason,
        "headline": answer.headline,
        "review_warnings": [w.as_dict() for w in answer.review_warnings],
        "text": render_text(answer, delivery),
    }
    if delivery is not None:
        out["delivery"] = delivery.as_dict()
    return out
