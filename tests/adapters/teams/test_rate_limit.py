"""Teams questions are rate-limited per person (Entra object id): Teams' servers share addresses."""
from __future__ import annotations

from .conftest import activity, eventually, post, with_

Q = "can I accept a friend request from a pupil's parent on facebook?"
LIMITED = "not answered or passed on"


def shown(call: dict) -> str:
    return call["activity"].get("text") or call["activity"].get("summary") or ""


async def test_rate_limit_is_per_teams_user(teams_app, teams_settings, client, connector):
    settings = with_(teams_settings, rate_limit_per_minute=2)
    base, app = await teams_app(settings)
    for i in range(3):
        status, _ = await post(client, base, activity(Q, service_url=connector.service_url, conv="a:one",
                                                       activity_id=f"u1-{i}", aad="aad-one", user="29:one"))
        assert status == 200
    status, _ = await post(client, base, activity(Q, service_url=connector.service_url, conv="a:two",
                                                   activity_id="u2-0", aad="aad-two", user="29:two"))
    assert status == 200
    to_one = await connector.wait_messages(3, "a:one")
    (to_two,) = await connector.wait_messages(1, "a:two")
    assert sum(LIMITED in shown(c) for c in to_one) == 1
    assert LIMITED not in shown(to_two)
    limited = next(c for c in to_one if LIMITED in shown(c))
    assert limited["reply_to"] == "u1-2" and "safeguarding lead" in shown(limited)

    from adapters.teams.channel import TEAMS_ADAPTER

    async def nothing_pending():
        return not await app[TEAMS_ADAPTER].store.pending()
    await eventually(nothing_pending)
