from bot.retrieval.sentences import MAX_SENTENCES, WINDOW_WORDS, split_sentences


def test_a_story_splits_into_its_sentences_and_drops_greetings():
    text = ("Hi all, bit of an odd one. I run the Year 8 netball team - one of the girls said her coach "
            "told her to keep their chats secret... Can I post the fixtures on my own Insta? Thanks!")
    assert split_sentences(text) == [
        "Hi all, bit of an odd one.", "I run the Year 8 netball team",
        "one of the girls said her coach told her to keep their chats secret",
        "Can I post the fixtures on my own Insta?"]


def test_chat_without_punctuation_is_one_sentence_and_line_breaks_split():
    assert split_sentences("can i add a parent on fb") == ["can i add a parent on fb"]
    assert split_sentences("quick one\nparent added me on fb\nshould i accept") == [
        "parent added me on fb", "should i accept"]


def test_a_long_unpunctuated_run_is_windowed_and_the_work_is_bounded():
    words = " ".join(f"word{i} and more" for i in range(40))
    windows = split_sentences(words)
    assert all(len(w.split()) <= WINDOW_WORDS for w in windows) and len(windows) > 1
    assert len(split_sentences(". ".join(["one two three four"] * 100))) == MAX_SENTENCES


def test_nothing_in_nothing_out():
    assert split_sentences("") == [] and split_sentences("ok") == []
