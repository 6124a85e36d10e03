import pytest

from bot.decide.stance import classify


@pytest.mark.parametrize("text,lead_in,stance", [
    ("School employees **must not** communicate with any current pupils.", "", "must not"),
    ("Employees should not communicate with past pupils whilst they are below the age of nineteen.", "", "should not"),
    ("If staff have a social networking account, it is advised that they do not to accept pupils as friends.", "", "advised against"),
    ("We would also advise staff not to be friends with former students.", "", "advised against"),
    ("Staff are advised against friend requests with former pupils.", "", "advised against"),
    ("Searching for images or videos through open search engines is discouraged when working with pupils.", "", "advised against"),
    ("Caution is advised when inviting work colleagues to be 'friends'.", "", "advised against"),
    ("Staff must complete the approval form before site creation.", "", "must"),
    ("Staff should be very careful when publishing any information.", "", "should"),
    ("Reasonable access is acceptable before/after working hours.", "", "may"),
    ("Pornographic material (writing, pictures, films).", "will amount to gross misconduct (this list is not exhaustive):", "must not"),
    ("our school;", "Staff must not post disparaging or defamatory statements about:", "must not"),
    ("Social networking sites such as Facebook are now widely used.", "", "information"),
    # A clause with a ban and advice reads as the stronger of the two.
    ("Staff must not be friends with current students. We would also advise staff not to be friends with former students.", "", "must not"),
])
def test_stance_from_modal_verbs(text, lead_in, stance):
    assert classify(text, lead_in) == stance
