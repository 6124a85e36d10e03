"""The core's Answer, and the escalation notices, as Adaptive Cards for Microsoft Teams (plain dicts).

Why its own module, with no botbuilder import: what an answer shows is the core's decision
(bot/decide/answer.py, bot/render.py); how it fits Teams is Teams' concern alone (card version 1.5,
the ~28 KB message limit, Action.Submit payloads), and plain dicts are testable against the
published Adaptive Card schema without a bot framework. adapters/teams/channel.py and
notifier.py wrap these with `card_attachment()`.

Safety rule, kept by construction: a TextBlock renders a markdown subset (links, emphasis,
lists), and Teams turns `<at>…</at>` into a mention when the activity carries a matching
entity. So text this module did not write itself (the question, clause text, school, policy
and contact names, the lead's answer) only ever goes into a `TextRun` inside a
`RichTextBlock` (the schema: "Markdown is not supported") or into plain-text fields (button
titles). TextBlocks carry only this module's own wording. On top of that, `inert()` puts an
invisible zero-width space inside `](` and after `<` before a letter, so even a client that
did render markdown or HTML in a run would show `[x](http://…)` or `<at>Head</at>` as typed
rather than as a live link or mention.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from bot.decide.answer import AMBIGUOUS, ANSWER, URGENT, Answer, Citation, sent_unasked
from bot.escalations.model import NOTIFY_DEPUTY, REMIND, Escalation
from bot.escalations.delivery import Delivery
from bot.render import STANCE_WORDS, clause_plain, delivery_line, render_text, urgent_steps

# Teams renders Adaptive Cards up to schema 1.5 (desktop, web and mobile); a 1.6 card would
# show only its fallbackText there.
CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Action.Submit payloads: {"policybot": <action>, "ref": <inbox ref>} on answers and
# {"policybot": <action>, "escalation": <escalation id>} on the lead's card. Shared with the
# channel's invoke/message handlers.
ACTION_KEY = "policybot"
FEEDBACK_HELPFUL = "helpful"
FEEDBACK_UNHELPFUL = "unhelpful"
ASK_LEAD = "ask_lead"
ESC_ACK = "escalation_ack"
ESC_ANSWER = "escalation_answer"
ANSWER_INPUT_ID = "answer"  # the lead card's Input.Text; its value arrives under this key

# Teams refuses a message over about 28 KB (the whole activity, card included). The card is
# kept under this many bytes of JSON (measured with non-ASCII escaped, the larger encoding), which
# leaves room for the activity envelope and the fallback text.
MAX_CARD_BYTES = 24_000
MAX_CLAUSE_CHARS = 1_500    # longest bundled clause is ~1,050; a longer one is shortened with a note
MAX_ECHO_CHARS = 500        # the asker's question echoed back
MAX_QUESTION_CHARS = 4_000  # the question on the lead's card (the core refuses longer ones)
MAX_ANSWER_CHARS = 2_900    # what the lead can type (Input.Text maxLength)
MAX_LEAD_ANSWER_CHARS = 3_000  # an answer given on the CLI may be longer; shortened with a note
MAX_BUTTON = 60
MAX_PLAIN = 20_000

_ZWSP = "\u200b"
_LINK = re.compile(r"\](?=\()")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def inert(text: str) -> str:
    """`text` with markdown link syntax and HTML/mention tags broken by an invisible zero-width
    space (U+200B) between `]` and `(` and after a `<` that starts a tag: looks the same, is
    never a live link, autolink or `<at>` mention."""
    return _TAG.sub("<" + _ZWSP, _LINK.sub("]" + _ZWSP, text))


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(text: str, limit: int) -> tuple[str, bool]:
    """(text, False) when it fits; else cut at a word boundary before `limit` with "…", True."""
    if len(text) <= limit:
        return text, False
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip() + " …", True


def card_bytes(card: dict) -> int:
    """The card's size as Teams will count it (JSON, non-ASCII escaped: the larger encoding)."""
    return len(json.dumps(card).encode("utf-8"))


# --- element helpers ---------------------------------------------------------------------

def run(text: str, **style: Any) -> dict:
    """A TextRun: never markdown. `style`: weight, italic, isSubtle, color, size."""
    return {"type": "TextRun", "text": inert(text), **style}


def rich(*parts: str | dict, **props: Any) -> dict:
    """A RichTextBlock of runs; a plain str part becomes an unstyled run."""
    inlines = [run(p) if isinstance(p, str) else p for p in parts]
    return {"type": "RichTextBlock", "inlines": inlines, **props}


def label(text: str, **props: Any) -> dict:
    """A TextBlock for this module's own constant wording only (it renders markdown)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def container(items: list[dict], style: str | None = None, **props: Any) -> dict:
    out: dict[str, Any] = {"type": "Container", "items": items, **props}
    if style:
        out["style"] = style
    return out


def submit(title: str, data: dict, style: str | None = None) -> dict:
    out: dict[str, Any] = {"type": "Action.Submit", "title": cut(inert(title), MAX_BUTTON), "data": data}
    if style:
        out["style"] = style
    return out


def _card(body: list[dict], actions: list[dict] | None = None, fallback: str = "") -> dict:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
                            "body": body, "msteams": {"width": "Full"}}
    if actions:
        card["actions"] = actions
    if fallback:
        card["fallbackText"] = cut(inert(fallback), 300)
    return card


def card_attachment(card: dict) -> dict:
    """The Bot Framework attachment for a card (what activity.attachments holds)."""
    return {"contentType": CONTENT_TYPE, "content": card}


# --- answers -----------------------------------------------------------------------------

def _clause_items(c: Citation, heading: str = "", show_lead_in: bool = True) -> list[dict]:
    """One cited clause: optional "did you mean" heading, the clause quoted verbatim (with its
    lead-in), then policy, section id and stance."""
    items: list[dict] = []
    if heading:
        items.append(rich(run(heading, weight="Bolder")))
    quote: list[dict] = []
    if c.lead_in and show_lead_in:
        quote.append(rich(run(clause_plain(c.lead_in))))
    text, shortened = shorten(clause_plain(c.text), MAX_CLAUSE_CHARS)
    quote.append(rich(run(("– " if c.lead_in else "") + text)))
    if shortened:
        quote.append(rich(run(f"(shortened here; the full text is section {c.clause_id} of {c.policy})",
                              isSubtle=True, italic=True)))
    items.append(container(quote, style="emphasis"))
    stance = STANCE_WORDS.get(c.stance, c.stance)
    items.append(rich(run(c.policy, isSubtle=True), run(", section ", isSubtle=True),
                      run(c.clause_id, weight="Bolder"), run(f" ({c.section})", isSubtle=True),
                      run(" · stance: ", isSubtle=True), run(stance, weight="Bolder")))
    return items


def _clause_groups(answer: Answer) -> list[list[dict]]:
    groups, shown_lead_in = [], None
    ambiguous = answer.decision == ANSWER and answer.reason == AMBIGUOUS
    for c in answer.citations:
        if ambiguous:
            groups.append(_clause_items(c, heading=f"{c.situation}?"))
        else:
            groups.append(_clause_items(c, show_lead_in=c.lead_in != shown_lead_in))
            shown_lead_in = c.lead_in or None
    return groups


def fallback_text(answer: Answer, delivery: Delivery | None = None) -> str:
    """Notification / screen-reader summary: short, no policy text for urgent answers, and no
    claim about the escalation beyond what `delivery` says happened."""
    if answer.decision == URGENT:
        return ("Urgent: go to your designated safeguarding lead in person now. "
                + delivery_line(answer, delivery)).strip()
    if answer.decision == ANSWER:
        return f"{answer.school_name} policy: see section {', '.join(c.clause_id for c in answer.citations)}"
    return f"{answer.school_name}: {delivery_line(answer, delivery)}"


def answer_card(answer: Answer, *, ref: str, lead_name: str | None = None, can_ask: bool = True,
                question: str = "", delivery: Delivery | None = None) -> dict:
    """The reply card for one answer.

    `ref`: the channel's reference for this question (inbox id), carried by every button.
    `lead_name`: how to name the lead on the "Ask" button (default: the lead's display name).
    `can_ask`: False when escalations cannot be recorded now, so no "Ask" button is offered.
    `question`: when given, echoed (shortened) at the top.
    `delivery`: what happened to the escalation, stated as it is (told whom, queued, not sent).
    Urgent answers never quote policy and have no buttons; escalated ones say who the question
    went to and have no buttons (the lead's answer is the follow-up).
    """
    lead = answer.lead.display
    school = answer.school_name
    head: list[dict] = []
    if question:
        head.append(rich(run("You asked: ", isSubtle=True), run(cut(question, MAX_ECHO_CHARS), isSubtle=True,
                                                                  italic=True)))
    if answer.decision == URGENT:
        head.append(container([
            label("URGENT: this sounds like a live safeguarding concern", weight="Bolder", color="Attention",
                  size="Medium"),
            rich(run("Concern: ", weight="Bolder"), run(answer.concern or "unspecified")),
            *(label(f"\u2022 {step}") for step in urgent_steps(answer)),
        ], style="attention"))
        line = delivery_line(answer, delivery)
        if line:
            head.append(label(line, weight="Bolder"))
        return _card(head, fallback=fallback_text(answer, delivery))  # never quotes policy, no buttons

    intro: list[dict] = []
    if answer.decision == ANSWER and answer.headline:
        intro.append(label(answer.headline, weight="Bolder"))
    if answer.decision == ANSWER and answer.reason == AMBIGUOUS:
        intro.append(rich("Your question could be about more than one situation in ", run(school, weight="Bolder"),
                          "'s policy. Did you mean:"))
    elif answer.decision == ANSWER:
        policies = ", ".join(sorted({c.policy for c in answer.citations}))
        intro.append(rich(run(school, weight="Bolder"), f", {policies}, says:"))
    else:
        why = ("this doesn't look like a question about the social-media and online-safety policy"
               if answer.reason == "out_of_scope" else "I can't answer it with confidence from the policy")
        intro.append(rich(run(school, weight="Bolder"), f": {why}."))
        intro.append(label(delivery_line(answer, delivery)))
        if answer.citations:
            intro.append(label("The closest clauses I found (they may not answer your question):", isSubtle=True))

    tail: list[dict] = []
    for w in answer.review_warnings:
        tail.append(container([rich("⚠ ", run(w.policy, weight="Bolder"), f" was due for review in {w.next_review} "
                                    f"(by {w.due:%d %B %Y}); check with ", run(lead), " that it is still current.")],
                              style="warning"))
    actions: list[dict] = []
    if answer.decision == ANSWER:
        tail.append(label(f"Confidence {answer.confidence:.0%}.", isSubtle=True, size="Small"))
        actions = [submit("Helpful", {ACTION_KEY: FEEDBACK_HELPFUL, "ref": ref}),
                   submit("Not helpful", {ACTION_KEY: FEEDBACK_UNHELPFUL, "ref": ref})]
        if can_ask:
            actions.append(submit(f"Ask {lead_name or lead}", {ACTION_KEY: ASK_LEAD, "ref": ref}, style="positive"))
    elif can_ask and delivery is None and not sent_unasked(answer):
        actions = [submit(f"Ask {lead_name or lead} anyway", {ACTION_KEY: ASK_LEAD, "ref": ref})]

    groups = _clause_groups(answer)
    more = rich(run("(more clauses matched than fit here; ask again more specifically)", isSubtle=True,
                    italic=True))
    kept = len(groups)
    while True:
        body = head + intro + [item for g in groups[:kept] for item in g]
        body += ([more] if kept < len(groups) else []) + tail
        card = _card(body, actions, fallback_text(answer, delivery))
        if card_bytes(card) <= MAX_CARD_BYTES or kept <= 1:
            return card
        kept -= 1


def plain_text(answer: Answer, delivery: Delivery | None = None) -> str:
    """The answer for a client that shows no cards (and the activity's text): the core's own
    rendering, without its markdown bold, with links and tags made inert. Send it with
    textFormat "plain"."""
    return cut(inert(render_text(answer, delivery).replace("**", "")), MAX_PLAIN)


def notice_card(text: str) -> dict:
    """A plain reply: not set up for this tenant/team, question refused, still loading."""
    return _card([rich(run(text))], fallback=text)


# --- escalations -------------------------------------------------------------------------

_TITLES = {REMIND: "Reminder: a question is waiting for you",
           NOTIFY_DEPUTY: "A question the lead has not picked up"}
DEFAULT_TITLE = "A staff question needs your answer"


def _fitted(build: Callable[[int], dict], limit: int) -> dict:
    """build(limit) with `limit` (the characters of its longest text) lowered until the card
    fits MAX_CARD_BYTES: 4,000 non-ASCII characters take 24 KB once escaped."""
    card = build(limit)
    while card_bytes(card) > MAX_CARD_BYTES and limit > 200:
        limit = int(limit * 0.8)
        card = build(limit)
    return card


def lead_card(esc: Escalation, kind: str) -> dict:
    """The proactive card to the lead (or deputy): URGENT banner first when urgent, the question,
    who asked, the closest clauses, a box for the answer and Acknowledge / Send answer."""
    return _fitted(lambda limit: _lead_card(esc, kind, limit), MAX_QUESTION_CHARS)


def _lead_card(esc: Escalation, kind: str, question_chars: int) -> dict:
    body: list[dict] = []
    if esc.urgent:
        body.append(container([
            label("URGENT: live safeguarding concern", weight="Bolder", color="Attention", size="Medium"),
            rich(run("Concern: ", weight="Bolder"), run(esc.concern or "unspecified")),
            label("The asker has been told to speak to the designated safeguarding lead in person now."),
        ], style="attention"))
    body.append(label(_TITLES.get(kind, DEFAULT_TITLE), weight="Bolder", size="Medium"))
    body.append(rich(run(esc.school_name, weight="Bolder"), ", escalation ", run(esc.id, fontType="Monospace")))
    body.append(rich("Asked by ", run(esc.asker.display_name or "a member of staff", weight="Bolder"),
                     f". Why: {esc.reason.replace('_', ' ')}."))
    if esc.question:
        question, shortened = shorten(esc.question, question_chars)
        quote = [rich(run(question))]
        if shortened:
            quote.append(rich(run(f"(shortened here; the whole question: policybot escalations show {esc.id})",
                                  isSubtle=True, italic=True)))
    else:
        quote = [rich(run("(text removed under the retention policy)", italic=True, isSubtle=True))]
    body.append(container(quote, style="emphasis"))
    body.append(label("Closest clauses the bot found (they may not answer it):", isSubtle=True))
    if esc.candidates:
        body.extend(rich("• ", run(c.clause_id, weight="Bolder"), ": ", run(c.ref)) for c in esc.candidates)
    else:
        body.append(label("(none)", isSubtle=True))
    body.append({"type": "Input.Text", "id": ANSWER_INPUT_ID, "isMultiline": True, "maxLength": MAX_ANSWER_CHARS,
                 "label": "Your answer (goes to the asker, attributed to you)",
                 "placeholder": "Type your answer, then Send answer"})
    actions = [submit("Acknowledge", {ACTION_KEY: ESC_ACK, "escalation": esc.id}),
               submit("Send answer", {ACTION_KEY: ESC_ANSWER, "escalation": esc.id}, style="positive")]
    fallback = f"{'URGENT: ' if esc.urgent else ''}A question from {esc.school_name} needs your answer ({esc.id})"
    return _card(body, actions, fallback)


def answer_to_asker_card(esc: Escalation, text: str, lead_display: str) -> dict:
    """The lead's answer, posted back where the question was asked, attributed to the lead.
    `text`: the lead's own words (esc.answer_text), not a pre-rendered message: the card does
    the attribution. `lead_display`: e.g. "Ms A Lead (Online Safety Lead)"."""
    return _fitted(lambda limit: _answer_to_asker_card(esc, text, lead_display, limit), MAX_LEAD_ANSWER_CHARS)


def _answer_to_asker_card(esc: Escalation, text: str, lead_display: str, answer_chars: int) -> dict:
    body = [rich(run(lead_display, weight="Bolder"), " at ", run(esc.school_name),
                 f" has answered the question you asked (ref {esc.id}):")]
    if esc.question:
        body.append(rich(run("You asked: ", isSubtle=True), run(cut(esc.question, MAX_ECHO_CHARS), isSubtle=True,
                                                                  italic=True)))
    answer, shortened = shorten(text.strip(), answer_chars)
    quote = [rich(run(answer))]
    if shortened:
        quote.append(rich(run(f"(shortened here; ask {lead_display} for the rest, ref {esc.id})",
                              isSubtle=True, italic=True)))
    body.append(container(quote, style="emphasis"))
    return _card(body, fallback=f"{lead_display} has answered your question (ref {esc.id}).")
