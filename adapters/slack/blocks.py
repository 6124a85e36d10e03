"""The core's Answer as Block Kit. Presentation only: the decision is the core's.

Why its own module: Slack's limits (50 blocks a message, 3,000 characters a section text, 75 a
button label) and its markup (anything between < and > can ping a channel or unfurl a link)
are Slack's concern alone; everything shown here is escaped and cut to fit.
"""
from __future__ import annotations

from bot.decide.answer import AMBIGUOUS, ANSWER, URGENT, Answer, Citation, sent_unasked
from bot.escalations.delivery import Delivery
from bot.render import STANCE_WORDS, clause_plain, delivery_line, urgent_headline, urgent_steps

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_BUTTON = 75
MAX_FALLBACK = 3000

# action ids, shared with app.py's listeners
HELPFUL, NOT_HELPFUL, ASK_LEAD, POST_TO_CHANNEL = "feedback_helpful", "feedback_not_helpful", "ask_lead", "post_to_channel"


def escape(text: str) -> str:
    """Slack's three control characters, so `<!channel>`, `<@U1>` and `<http://x|y>` stay inert text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack sends message text with &, <, > escaped; the core reads the words."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, MAX_SECTION)}]}


def divider() -> dict:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    b = {"type": "button", "action_id": action_id, "value": value,
         "text": {"type": "plain_text", "text": cut(label, MAX_BUTTON), "emoji": False}}
    if style:
        b["style"] = style
    return b


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in escape(clause_plain(text)).splitlines() or [""])


def citation_blocks(c: Citation, heading: str = "") -> list[dict]:
    """The clause quoted (with its lead-in), then its policy, section id and stance."""
    body = (f"*{escape(heading)}*\n" if heading else "")
    if c.lead_in:
        body += _quote(c.lead_in) + "\n" + _quote("  - " + c.text)
    else:
        body += _quote(c.text)
    label = f"{escape(c.policy)}, section *{escape(c.clause_id)}* ({escape(c.section)}) · stance: " \
            f"*{escape(STANCE_WORDS.get(c.stance, c.stance))}*"
    return [section(body), context(label)]


def answer_blocks(answer: Answer, ref: str = "", question: str = "", buttons: bool = True,
                  extra_actions: list[dict] | None = None, delivery: Delivery | None = None) -> list[dict]:
    """Blocks for one answer. `ref` (the inbox id) goes in the buttons' values; `question`, when
    given, is echoed escaped; `delivery`, what happened to the escalation (stated as it is)."""
    lead = escape(answer.lead.display)
    school = escape(answer.school_name)
    head: list[dict] = []
    body: list[dict] = []
    if question:
        head.append(context(f"You asked: {escape(question)}"))
    if answer.decision == URGENT:
        head.append(section(f":rotating_light: *{escape(urgent_headline(answer))}*\n"
                            + "\n".join(f"\u2022 {escape(step)}" for step in urgent_steps(answer))))
        line = delivery_line(answer, delivery)
        if line:
            head.append(section(escape(line)))
        return head  # never quotes policy, no feedback buttons
    if answer.decision == ANSWER and answer.headline:
        head.append(section(f"*{escape(answer.headline)}*"))
    if answer.decision == ANSWER and answer.reason == AMBIGUOUS:
        head.append(section(f"Your question could be about more than one situation in *{school}*'s policy. "
                            "Did you mean:"))
        for c in answer.citations:
            body += citation_blocks(c, heading=f"{c.situation}?")
    elif answer.decision == ANSWER:
        policies = ", ".join(sorted({escape(c.policy) for c in answer.citations}))
        head.append(section(f"*{school}*, {policies}, says:"))
        for c in answer.citations:
            body += citation_blocks(c)
    else:
        why = ("this doesn't look like a question about the social-media and online-safety policy"
               if answer.reason == "out_of_scope" else "I can't answer it with confidence from the policy")
        head.append(section(f"*{school}*: {why}.\n{escape(delivery_line(answer, delivery))}"))
        if answer.citations:
            body.append(context("The closest clauses I found (they may not answer your question):"))
            for c in answer.citations:
                body += citation_blocks(c)
    tail: list[dict] = []
    for w in answer.review_warnings:
        tail.append(context(f":warning: {escape(w.policy)} was due for review in {escape(w.next_review)} "
                            f"(by {w.due:%d %B %Y}); check with {lead} that it is still current."))
    elements: list[dict] = []
    if buttons and answer.decision == ANSWER:
        elements = [button("Helpful", HELPFUL, ref), button("Not helpful", NOT_HELPFUL, ref),
                    button(f"Ask {answer.lead.display}", ASK_LEAD, ref, "primary")]
    elif buttons and delivery is None and not sent_unasked(answer) and answer.decision != URGENT:
        elements = [button(f"Ask {answer.lead.display} anyway", ASK_LEAD, ref)]
    elements += extra_actions or []
    if elements:
        tail.append({"type": "actions", "elements": elements})
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        body = body[: max(0, room - 1)] + [context("(more clauses matched; ask again more specifically)")]
    return head + body + tail


def fallback_text(answer: Answer, delivery: Delivery | None = None) -> str:
    """The notification / screen-reader text: short, no policy text for urgent, and no claim
    about the escalation beyond what `delivery` says happened."""
    if answer.decision == URGENT:
        return cut("Urgent: go to your designated safeguarding lead in person now. "
                   + delivery_line(answer, delivery), MAX_FALLBACK)
    if answer.decision == ANSWER:
        ids = ", ".join(c.clause_id for c in answer.citations)
        return cut(f"{answer.school_name} policy: see section {ids}", MAX_FALLBACK)
    return cut(f"{answer.school_name}: {delivery_line(answer, delivery)}", MAX_FALLBACK)


def notice_blocks(text: str) -> list[dict]:
    """A plain reply (not set up, question refused, still loading), escaped."""
    return [section(escape(text))]
