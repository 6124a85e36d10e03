"""The App Home tab: how to ask, the school's lead, and its policies with their review dates.

Why its own module: the tab is per workspace, not per question, and a workspace may map to
several schools (a trust's academies, one per channel), so it shows each school mapped for
that team, and only those. An unmapped workspace sees a "not set up" tab with no school's text.
Everything taken from the knowledge base is escaped like answer text (blocks.escape).
"""
from __future__ import annotations

from datetime import date

from bot.knowledge.load import Contact, KnowledgeBase, School

from . import blocks as bk

MAX_HOME_BLOCKS = 100  # Slack's limit for a Home tab view

HOW_TO_ASK = ("*How to ask*\n"
              "• Mention me in a channel I'm in: `@policybot can I accept a friend request from a parent?` "
              "I answer in the thread.\n"
              "• Send me a direct message (the *Messages* tab).\n"
              "• Type `/policy <your question>` in any channel: only you see the answer, with a button to "
              "post it to the channel.\n"
              "I quote the clauses of your school's policy that apply, with their section numbers. "
              "If I can't answer with confidence, or it sounds urgent, your question goes to your lead.")
NOT_SET_UP_HOME = ("policybot isn't set up for this workspace yet, so it can't answer questions here. "
                   "Ask whoever runs policybot to add this workspace to SLACK_TEAM_SCHOOLS.")
NOT_LOADED_HOME = "policybot couldn't load its policies just now. Try again in a minute."


def _view(blocks: list[dict]) -> dict:
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = blocks[: MAX_HOME_BLOCKS - 1] + [bk.context("(more policies than fit here)")]
    return {"type": "home", "blocks": blocks}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": bk.cut(text, 150), "emoji": False}}


def lead_line(lead: Contact) -> str:
    who = bk.escape(lead.display)
    return f"Your lead for policy questions: *{who}*" + (f" (<@{lead.slack_user_id}>)" if lead.slack_user_id else "")


def review_warning(title: str, next_review: str, due: date, lead: Contact) -> str:
    """Worded as answers word it (bot/render.py, blocks.answer_blocks)."""
    return (f":warning: {bk.escape(title)} was due for review in {bk.escape(next_review)} (by {due:%d %B %Y}); "
            f"check with {bk.escape(lead.display)} that it is still current.")


def school_blocks(school: School, channel: str | None, today: date) -> list[dict]:
    where = f"questions asked in <#{channel}>" if channel else "this workspace"
    out = [bk.divider(), bk.section(f"*{bk.escape(school.name)}* ({where})"), bk.section(lead_line(school.lead))]
    lines, warnings = [], []
    for p in school.policies:
        lines.append(f"• *{bk.escape(p.title)}*: next review {bk.escape(p.next_review)}")
        if p.overdue(today):
            warnings.append(bk.context(review_warning(p.title, p.next_review, p.next_review_by, school.lead)))
    out.append(bk.section("*Policies*\n" + "\n".join(lines)))
    return out + warnings


def home_view(kb: KnowledgeBase, places: list[tuple[str, str | None]], today: date) -> dict:
    """`places`: SchoolMap.places_in(team). Empty: the "not set up" view."""
    if not places:
        return not_set_up_view()
    blocks = [_header("Ask policybot"), bk.section(HOW_TO_ASK)]
    if all(channel is not None for _, channel in places):
        blocks.append(bk.context("Direct messages aren't set up for this workspace: ask in the channels below."))
    for slug, channel in places:
        blocks += school_blocks(kb.school(slug), channel, today)
    return _view(blocks)


def not_set_up_view() -> dict:
    return _view([_header("policybot"), bk.section(bk.escape(NOT_SET_UP_HOME))])


def not_loaded_view() -> dict:
    return _view([_header("policybot"), bk.section(bk.escape(NOT_LOADED_HOME))])
