"""Live-concern detection: recall first, but a policy question about adult content is not a child at risk."""
import pytest

from bot.decide.safeguarding import detect


@pytest.mark.parametrize("question,category", [
    ("a boy in year 5 says a man he plays minecraft with wants to meet him on saturday alone", "sexual exploitation or grooming"),
    ("one of my pupils is being sent nudes by someone online", "sexual images of a child"),
    ("student showed me a sexual video of another student that is going round", "sexual images of a child"),
    ("a lad in my form says someone is blackmailing him with photos", "blackmail or sextortion"),
    ("y8 girl posted on her story that she wants to die", "self-harm or suicide"),
    ("a pupil told me she has been cutting herself and posting it", "self-harm or suicide"),
    ("child in reception came in with bruises on her arms and said daddy hits her", "abuse or neglect"),
    ("a parent posted that they are going to stab a teacher tomorrow", "threat of violence or weapon"),
    ("a student has been sharing extremist videos with younger pupils", "radicalisation"),
    ("one of our year 9s has gone missing after meeting someone off snapchat", "missing child"),
])
def test_live_concerns_are_detected(question, category):
    concern = detect(question)
    assert concern is not None and concern.category == category


@pytest.mark.parametrize("question", [
    "can I post photos of sports day on my instagram?",
    "is it ok to accept a friend request from a parent?",
    "can I share explicit memes in the staff group chat?",
    "a parent was rude to me on facebook about her child, what can I do?",
    "can an adult volunteer message pupils on whatsapp?",
    "will I get sacked for slagging off the head on twitter?",
    "can I look at dating sites on my lunch break?",
])
def test_ordinary_policy_questions_are_not_urgent(question):
    assert detect(question) is None
