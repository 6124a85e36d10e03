"""The App Home tab, published on a signed `app_home_opened` event: how to ask, each mapped
school's lead and policies with review dates (and the overdue warning), and for an unmapped
workspace a "not set up" view that names no school."""
from __future__ import annotations

import json

from adapters.slack import blocks as bk
from adapters.slack.mapping import parse

from ..conftest import with_
from .conftest import event_body, post, signed


def home_opened(event_id: str, team: str, user: str = "U1", tab: str = "home") -> str:
    return event_body(event_id, {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab,
                                 "event_ts": "1700000000.000500"}, team=team)


async def open_home(client, base, fake_slack, team: str, user: str = "U1") -> dict:
    before = len(fake_slack.of("views.publish"))
    body = home_opened(f"EvHome-{team}-{user}", team, user)
    assert (await post(client, base, body, signed(body)))[0] == 200
    published = (await fake_slack.wait_for("views.publish", before + 1))[before]
    assert published["user_id"] == user and published["view"]["type"] == "home"
    assert len(published["view"]["blocks"]) <= 100
    return published["view"]


def other_schools(bundled_bot, *mine: str) -> list[str]:
    return [s.name for slug, s in bundled_bot.kb.schools.items() if slug not in mine]


async def test_home_shows_the_workspace_school_lead_and_policies(slack_app, client, fake_slack, bundled_bot):
    base, _ = await slack_app()
    view = await open_home(client, base, fake_slack, "T1")  # T1=tsat
    text = json.dumps(view)
    assert "How to ask" in text and "/policy" in text and "direct message" in text
    assert "*Thinking Schools Academy Trust* (this workspace)" in text
    assert "*the Headteacher/Principal*" in text
    assert "*Social Media Policy*: next review December 2026" in text
    assert ":warning:" not in text  # due December 2026; the tests' today is 25 November 2026
    for name in other_schools(bundled_bot, "tsat"):
        assert name not in text


async def test_home_of_a_trust_workspace_shows_each_channels_school_and_overdue_review(
        slack_app, client, fake_slack, bundled_bot, slack_settings):
    base, _ = await slack_app()
    view = await open_home(client, base, fake_slack, "T2")  # only T2:C9=kingsmead
    text = json.dumps(view)
    kingsmead = bundled_bot.kb.school("kingsmead")
    assert "*Kingsmead School* (questions asked in <#C9>)" in text
    assert f"*{kingsmead.lead.display}*" in text
    assert "*Social Networking/Media*: next review Term 6 - 2020/21" in text
    warning = (":warning: Social Networking/Media was due for review in Term 6 - 2020/21 (by 31 July 2021); "
               f"check with {kingsmead.lead.display} that it is still current.")
    assert warning in [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert "Direct messages aren't set up" in text
    for name in other_schools(bundled_bot, "kingsmead"):
        assert name not in text

    # a workspace with a team-wide school and an academy channel shows both, team-wide first
    s = with_(slack_settings, slack_team_schools="T3=tsat,T3:C7=arh")
    base3, _ = await slack_app(s)
    view = await open_home(client, base3, fake_slack, "T3")
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    heads = [t for t in sections if t.endswith(")") and t.startswith("*")]
    assert heads == ["*Thinking Schools Academy Trust* (this workspace)",
                     "*Alderman Richard Hallam Primary School* (questions asked in <#C7>)"]
    assert "Direct messages aren't set up" not in json.dumps(view)


async def test_lead_with_a_slack_id_is_linked(slack_app, client, fake_slack, bundled_bot, monkeypatch):
    import dataclasses

    school = bundled_bot.kb.schools["tsat"]
    lead = dataclasses.replace(school.lead, name="Ms <!here> Lead", slack_user_id="ULEAD")
    monkeypatch.setitem(bundled_bot.kb.schools, "tsat", dataclasses.replace(school, lead=lead))
    base, _ = await slack_app()
    text = json.dumps(await open_home(client, base, fake_slack, "T1"))
    assert "(<@ULEAD>)" in text and "Ms &lt;!here&gt; Lead" in text and "<!here>" not in text


async def test_unmapped_workspace_gets_not_set_up_and_no_school_text(slack_app, client, fake_slack, bundled_bot):
    base, _ = await slack_app()
    view = await open_home(client, base, fake_slack, "T9")
    text = json.dumps(view)
    assert "isn't set up for this workspace" in text
    for s in bundled_bot.kb.schools.values():
        assert s.name not in text and s.policies[0].title not in text
    assert "review" not in text


async def test_messages_tab_publishes_nothing(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = home_opened("EvMsgTab", "T1", tab="messages")
    assert (await post(client, base, body, signed(body)))[0] == 200
    await open_home(client, base, fake_slack, "T1", user="U2")  # a later home event is published...
    assert [p["user_id"] for p in fake_slack.of("views.publish")] == ["U2"]  # ...and is the only one


def test_places_in_lists_team_entry_first_then_channels():
    m = parse("T1=tsat,T1:C9=arh,T1:C2=lzw,T2:C1=kingsmead")
    assert m.places_in("T1") == [("tsat", None), ("lzw", "C2"), ("arh", "C9")]
    assert m.places_in("T2") == [("kingsmead", "C1")]
    assert m.places_in("T9") == [] and m.places_in(None) == []


def test_home_view_fits_slacks_block_limit(bundled_bot):
    from adapters.slack.home import MAX_HOME_BLOCKS, home_view

    places = [("kingsmead", f"C{i}") for i in range(60)]
    view = home_view(bundled_bot.kb, places, bundled_bot.settings.current_date())
    assert len(view["blocks"]) == MAX_HOME_BLOCKS
    assert view["blocks"][-1] == bk.context("(more policies than fit here)")
