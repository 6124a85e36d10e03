"""The Slack app manifest: what `policybot slack-manifest [--socket-mode]` prints.

Why in code: the scopes, events and features must match what the adapter listens for (App
Home, mentions, DMs, /policy, the buttons), and a pasted manifest is the shortest correct
install. Over HTTP every request URL is the server's /slack/events; over Socket Mode none is
needed (the app connects out with its xapp- token).
"""
from __future__ import annotations

import yaml

EVENTS_PATH = "/slack/events"  # the same route channel.py mounts
BOT_SCOPES = (
    "app_mentions:read",  # @policybot in channels
    "chat:write",         # replies, ephemeral /policy answers, the lead's DM
    "commands",           # /policy
    "im:history",         # direct messages to the app (and finding our own earlier reply in a DM)
    "im:read",
    "im:write",           # opening the DM to the lead
)
# Optional (`slack-manifest --without-history-scopes`): they let the bot read the channel thread it
# was answering after a crash, to see whether its reply already went out. Without them everything
# works, but a crash between posting a channel reply and recording it gives that thread a second
# reply (the lookup fails with missing_scope and the bot answers again). DMs are unaffected (im:history).
HISTORY_SCOPES = (
    "channels:history",   # finding our own earlier reply in a thread after a crash (no double reply)
    "groups:history",     # the same in private channels
)
BOT_EVENTS = ("app_home_opened", "app_mention", "message.im")
EXAMPLE_URL = "https://policybot.example.org"


def manifest(base_url: str = EXAMPLE_URL, socket_mode: bool = False, name: str = "policybot",
             history_scopes: bool = True) -> dict:
    url = base_url.rstrip("/") + EVENTS_PATH
    command = {"command": "/policy", "description": "Ask about your school's social-media policy",
               "usage_hint": "can I accept a friend request from a parent?", "should_escape": False}
    events: dict = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict = {"is_enabled": True}
    if not socket_mode:
        command = {"command": "/policy", "url": url, **{k: v for k, v in command.items() if k != "command"}}
        events = {"request_url": url, **events}
        interactivity["request_url"] = url
    return {
        "display_information": {"name": name,
                                "description": "Answers staff questions from your school's online-safety policy"},
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES) + (list(HISTORY_SCOPES) if history_scopes else [])}},
        "settings": {"event_subscriptions": events, "interactivity": interactivity,
                     "org_deploy_enabled": False, "socket_mode_enabled": socket_mode,
                     "token_rotation_enabled": False},
    }


def render(base_url: str = EXAMPLE_URL, socket_mode: bool = False, history_scopes: bool = True) -> str:
    return yaml.safe_dump(manifest(base_url, socket_mode, history_scopes=history_scopes), sort_keys=False,
                          allow_unicode=True)
