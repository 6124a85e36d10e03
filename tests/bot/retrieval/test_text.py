from hypothesis import given, settings, strategies as st
from bot.retrieval.text import analyse, collapse_ws, normalise, words


def test_snowball_stemming_folds_inflections():
    assert analyse("posting posted posts") == ["post", "post", "post"]
    assert analyse("photographs photograph") == ["photograph", "photograph"]
    assert analyse("communicating communication")[0] == analyse("communicate")[0]


def test_stopwords_and_chat_filler_are_dropped():
    assert analyse("hey is it ok if I just post it?") == ["post"]


def test_apostrophes_quotes_and_markup():
    assert words("pupils' parents don\u2019t") == ["pupils", "parents", "dont"]
    assert normalise("**must not** <a href='x'>link</a>  \u201cfriends\u201d") == 'must not link "friends"'


def test_collapse_ws_is_how_verbatim_is_compared():
    assert collapse_ws("Google\n\nMeet   and\tZoom") == "Google Meet and Zoom"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000"
                                                                          "\u2018\u2019\u201c\u201d\u2013\u2022")))
def test_collapse_ws_folds_exactly_what_the_regex_folds(text):
    """collapse_ws splits on whitespace instead of a regex (it runs on every clause at load):
    the same result as the regex form, on any text, Unicode spaces included."""
    import re

    from bot.retrieval.text import _FOLDS

    assert collapse_ws(text) == re.sub(r"\s+", " ", text.translate(str.maketrans(dict(_FOLDS)))).strip()
