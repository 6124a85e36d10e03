"""The one-line short answer: the cited clauses' own position, never invented."""
from __future__ import annotations

from bot.decide.answer import Citation
from bot.decide.headline import headline, short


def cite(cid, text, stance):
    return Citation(cid, "5 Personal use", "Policy", "p", text, "s", stance)


def test_one_position_quotes_the_clause_start_with_its_section():
    line = headline((cite("5.4", "Staff must not befriend parents on social media.", "must not"),
                     cite("5.5", "Staff must never message pupils.", "must not")))
    assert line == 'Not allowed: "Staff must not befriend parents on social media" (section 5.4).'


def test_clauses_taking_different_positions_are_both_named():
    line = headline((cite("5.4", "Staff must not befriend parents.", "must not"),
                     cite("5.6", "Staff may use LinkedIn for professional networking.", "may")))
    assert line.startswith("Your policy gives two rules here: not allowed, section 5.4")
    assert "allowed, section 5.6" in line


def test_a_permission_with_a_condition_says_so():
    line = headline((cite("6.1", "Staff may post photos if parents have given consent.", "may"),))
    assert line.startswith("Allowed if the conditions below are met:")


def test_information_clauses_state_no_position():
    assert headline((cite("1.1", "This policy applies to all staff.", "information"),)) == ""


def test_a_long_clause_is_cut_at_a_word_and_marked():
    text = "Staff must not " + "use personal accounts for school business " * 5 + "ever."
    cut = short(text)
    assert cut.endswith("\u2026") and text.startswith(cut[:-1]) and len(cut) <= 91
