"""The lexicon layer: recall first, but a policy question about adult content is not a child
at risk, and a harm's name alone (a topic) is told apart from words reporting it (a report)."""
import pytest

from bot.decide.safeguarding import REPORT, TOPIC, match


@pytest.mark.parametrize("question,category,kind", [
    ("a boy in year 5 says a man he plays minecraft with wants to meet him on saturday alone", "grooming", REPORT),
    ("one of my pupils is being sent nudes by someone online", "images", TOPIC),
    ("student showed me a sexual video of another student that is going round", "images", TOPIC),
    ("a lad in my form says someone is blackmailing him with photos", "sextortion", REPORT),
    ("we are doing a unit on blackmail in media studies with year 12", "sextortion", TOPIC),
    ("a pupil told me she is self harming", "self-harm", REPORT),
    ("y8 girl posted on her story that she wants to die", "self-harm", REPORT),
    ("a pupil told me she has been cutting herself and posting it", "self-harm", REPORT),
    ("child in reception came in with bruises on her arms and said daddy hits her", "abuse-neglect", REPORT),
    ("a parent posted that they are going to stab a teacher tomorrow", "violence", REPORT),
    ("a student has been sharing extremist videos with younger pupils", "radicalisation", TOPIC),
    ("one of our year 9s has gone missing after meeting someone off snapchat", "missing", REPORT),
])
def test_live_concerns_are_matched_with_category_and_kind(question, category, kind):
    m = match(question)
    assert m is not None and (m.category, m.kind) == (category, kind)


def test_a_report_wins_over_an_earlier_topic_word():
    # "groomed" (a topic, first category) and "wants to die" (a report, later category)
    m = match("a year 8 pupil who was groomed last year now says she wants to die")
    assert (m.category, m.kind) == ("self-harm", REPORT)


@pytest.mark.parametrize("question", [
    "can I post photos of sports day on my instagram?",
    "is it ok to accept a friend request from a parent?",
    "can I share explicit memes in the staff group chat?",
    "a parent was rude to me on facebook about her child, what can I do?",
    "can an adult volunteer message pupils on whatsapp?",
    "will I get sacked for slagging off the head on twitter?",
    "can I look at dating sites on my lunch break?",
])
def test_ordinary_policy_questions_are_not_matched(question):
    assert match(question) is None
