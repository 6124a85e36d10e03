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
