"""Answer -> text: quotes, stances, urgent steps, and replies that state what really happened."""
import re
from datetime import date

import pytest

from bot.decide.answer import Answer, Citation, ReviewWarning
from bot.escalations.delivery import (DELIVERED, NOBODY, NOT_RECORDED, NOT_SENT_HERE, QUEUED, Delivery,
                                    Notice)
from bot.knowledge.load import Contact
from bot.render import render_text

LEAD = Contact(role="Online Safety Co-ordinator", name="Mr W Holder")
DEPUTY = Contact(role="Headteacher")


def cite(cid, text, lead_in="", stance="must not"):
    return Citation(cid, "6.0 Safeguarding", "Social Media Policy", "smp", text, "arh", stance, lead_in)


def test_answer_names_school_and_policy_quotes_clauses_with_ids_and_stance():
    a = Answer("arh", "Alderman Richard Hallam", "answer", 0.83, "confident",
               (cite("6.2(a)", "must not communicate with **current** pupils", "The key principles are:"),
                cite("6.2(b)", "should not contact past pupils", "The key principles are:", "should not")),
               LEAD, DEPUTY, (ReviewWarning("Social Media Policy", "September 2025", date(2025, 9, 30)),))
    text = render_text(a)
    assert text.startswith("**Alderman Richard Hallam**, Social Media Policy, says:")
    assert text.count("The key principles are:") == 1  # shared lead-in shown once
    assert "must not communicate with current pupils" in text  # emphasis marks dropped
    assert "section 6.2(a) (6.0 Safeguarding); stance: not allowed" in text
    assert "section 6.2(b) (6.0 Safeguarding); stance: should not" in text
    assert "due for review in September 2025 (by 30 September 2025)" in text
    assert "Ask Mr W Holder (Online Safety Co-ordinator)" in text
    assert "Confidence 83%" in text


def test_escalation_says_plainly_who_it_goes_to():
    a = Answer("arh", "ARH", "escalate", 0.2, "low_confidence", (cite("3.1", "something close"),), LEAD, DEPUTY)
    text = render_text(a)
    assert "can't answer that with confidence" in text
    assert "goes to" not in text and "Sent to" not in text  # nothing claimed that did not happen
    assert "ask Mr W Holder (Online Safety Co-ordinator)" in text
    assert "may not answer your question" in text


@pytest.mark.parametrize("state,urgent,says,never", [
    (DELIVERED, True, "policybot has told Mr W Holder (Online Safety Co-ordinator) by Slack, marked urgent (ref e9)",
     "still trying"),
    (QUEUED, True, "nothing has been delivered yet, so go to Mr W Holder (Online Safety Co-ordinator) or the "
                   "Headteacher in person now", "has told"),
    (NOBODY, True, "policybot could not notify anyone", "has told"),
    (NOT_RECORDED, True, "could not record or send this (its escalation database is unavailable): go to", "has told"),
    (NOT_SENT_HERE, True, "does not send anything from the command line: go to", "has told"),
    (DELIVERED, False, "Sent to Mr W Holder (Online Safety Co-ordinator) by Slack (ref e9)", "Not sent"),
    (QUEUED, False, "Queued for Mr W Holder (Online Safety Co-ordinator) by Slack (ref e9)", "Sent to"),
    (NOBODY, False, "Not sent: policybot has no way to reach Mr W Holder", "Sent to"),
    (NOT_RECORDED, False, "Not sent: policybot could not record your question", "Sent to"),
])
def test_every_reply_states_what_actually_happened(state, urgent, says, never):
    delivered = state == DELIVERED
    notices = (Notice("lead", LEAD.display, "slack", delivered),) if state in (DELIVERED, QUEUED) else ()
    d = Delivery(state, "e9" if notices else "", notices,
                 "its escalation database is unavailable" if state == NOT_RECORDED else "")
    decision = "urgent" if urgent else "escalate"
    a = Answer("arh", "ARH", decision, 1.0 if urgent else 0.2, "urgent" if urgent else "low_confidence", (),
               LEAD, DEPUTY, concern="self-harm or suicide" if urgent else "")
    text = render_text(a, d)
    assert says in text and never not in text


def test_urgent_tells_the_asker_to_speak_to_the_dsl_now_and_names_both_contacts():
    a = Answer("arh", "ARH", "urgent", 1.0, "urgent", (), LEAD, DEPUTY, concern="self-harm or suicide")
    text = render_text(a)
    assert "Go to Mr W Holder (Online Safety Co-ordinator) or the Headteacher in person now" in text
    assert "999" in text
    assert "Don't investigate or promise to keep it secret" in text and "in the child's words" in text


def test_urgent_reply_carries_the_category_advice_and_stays_short():
    advice = ("Don't view more than you must, and don't copy, forward, screenshot or delete the images (UKCIS).",)
    a = Answer("arh", "ARH", "urgent", 1.0, "urgent", (), LEAD, DEPUTY, concern="sexual images of a child",
               concern_category="images", advice=advice)
    text = render_text(a)
    assert "(sexual images of a child)" in text and advice[0] in text
    assert "ARH's policy" not in text and "says:" not in text  # never answered from policy
    # Ten seconds of reading: the steps (without the delivery line) stay under 75 words.
    steps = text.split("\n")[:-1]
    assert len(re.findall(r"[A-Za-z0-9']+", " ".join(steps))) < 75
