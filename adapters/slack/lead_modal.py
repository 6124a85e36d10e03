"""The lead's Answer modal: the answer, and what the lead lets policybot keep from it.

Why its own module: the modal's blocks and the parsing of its view_submission state are one
piece of Slack presentation, kept apart from the listeners (app.py) and the notifier. Nothing
is kept without a ticked box: "save as guidance" (a reviewed note for the school), "keep the
question with it", "add the question as a phrasing"; the question box starts with the question
as asked, for the lead to reword (questions may name children) before anything is saved.
"""
from __future__ import annotations

from bot.escalations.model import Escalation
from bot.knowledge.notes_write import MAX_QUESTION_CHARS, Keep

from .blocks import cut
from .notifier import ESC_ANSWER_VIEW

NOTE_TARGET = "__note__"  # the phrasing-for choice meaning "the guidance note this answer becomes"
MAX_ANSWER = 2900
NOTE, KEEP_QUESTION, PHRASING = "note", "keep_question", "phrasing"


def _text(text: str) -> dict:
    return {"type": "plain_text", "text": cut(text, 75)}


def _option(value: str, text: str, description: str = "") -> dict:
    out = {"text": _text(text), "value": value}
    if description:
        out["description"] = _text(description)
    return out


def answer_modal(esc_id: str, esc: Escalation | None = None) -> dict:
    """The modal. With the escalation (read when the lead pressed Answer) it also offers to keep
    the answer and the question; without it (store unreadable) just the answer box."""
    blocks: list[dict] = [{"type": "input", "block_id": "answer",
                           "label": _text("Your answer (goes to the asker, attributed to you)"),
                           "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                       "max_length": MAX_ANSWER}}]
    if esc is not None:
        blocks.append({"type": "input", "block_id": "keep", "optional": True,
                       "label": _text("Keep for future questions (only what you tick)"),
                       "element": {"type": "checkboxes", "action_id": "choices", "options": [
                           _option(NOTE, f"Save my answer as guidance for {esc.school_name}",
                                   "Shown to staff who ask alike, as yours, dated: leave out names"),
                           _option(KEEP_QUESTION, "Keep the question below with that guidance"),
                           _option(PHRASING, "Add the question below as a phrasing",
                                   "So the bot recognises this wording next time")]}})
        question = {"type": "plain_text_input", "action_id": "text", "multiline": True,
                    "max_length": MAX_QUESTION_CHARS}
        if esc.question:
            question["initial_value"] = esc.question[:MAX_QUESTION_CHARS]
        blocks.append({"type": "input", "block_id": "question", "optional": True,
                       "label": _text("The question, as it should be kept (remove any child's name)"),
                       "element": question})
        options = [_option(NOTE_TARGET, "The guidance I am saving now")]
        options += [_option(c.clause_id, f"{c.clause_id}: {c.ref}") for c in esc.candidates[:99]]
        blocks.append({"type": "input", "block_id": "phrasing_for", "optional": True,
                       "label": _text("The phrasing is for"),
                       "element": {"type": "static_select", "action_id": "clause", "options": options,
                                   "initial_option": options[0]}})
    return {"type": "modal", "callback_id": ESC_ANSWER_VIEW, "private_metadata": esc_id,
            "title": _text("Answer the question"), "submit": _text("Send answer"), "blocks": blocks}


def submitted(view: dict) -> tuple[str, Keep | None, dict[str, str]]:
    """(answer text, what to keep or None, errors by block id for Slack to show in the modal)."""
    values = (view.get("state") or {}).get("values") or {}

    def element(block: str, action: str) -> dict:
        found = (values.get(block) or {}).get(action)
        return found if isinstance(found, dict) else {}

    text = (element("answer", "text").get("value") or "").strip()
    if not text:
        return "", None, {"answer": "Please type your answer."}
    ticked = {o.get("value") for o in element("keep", "choices").get("selected_options") or [] if isinstance(o, dict)}
    if not ticked & {NOTE, PHRASING}:
        if KEEP_QUESTION in ticked:
            return text, None, {"keep": "Keeping the question goes with saving your answer as guidance."}
        return text, None, {}
    target = (element("phrasing_for", "clause").get("selected_option") or {}).get("value") or NOTE_TARGET
    keep = Keep(note=NOTE in ticked, question=element("question", "text").get("value") or "",
                keep_question=KEEP_QUESTION in ticked and NOTE in ticked, phrasing=PHRASING in ticked,
                phrasing_for="" if target == NOTE_TARGET else target)
    try:
        keep.check()
    except ValueError as exc:
        block = "phrasing_for" if "which clause" in str(exc) else "question"
        return text, None, {block: cut(str(exc)[:1].upper() + str(exc)[1:], 150)}
    return text, keep, {}
