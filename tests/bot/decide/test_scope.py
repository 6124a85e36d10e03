import pytest

from bot.decide.scope import in_scope


@pytest.mark.parametrize("question", [
    "what time does school start?", "how do I book annual leave?", "where do I park for the christmas fair?",
    "can I have a day off for a wedding?", "who marks the year 6 mocks?",
])
def test_questions_with_nothing_online_are_out_of_scope(question):
    assert not in_scope(question)


@pytest.mark.parametrize("question", [
    "can I be facebook friends with a parent?", "ok to post pics of sports day?", "does the policy apply to volunteers?",
    "can I text a pupil about homework?", "is my insta too public?", "can I use the school logo on my profile?",
])
def test_questions_about_online_conduct_or_the_policy_are_in_scope(question):
    assert in_scope(question)
