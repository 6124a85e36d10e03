"""POST /api/knowledge/reload: what `policybot reload` calls on the running server.

Under /api/, so it is behind the web chat's rule (adapters/web_security.py): mounted only when
the web chat is on, i.e. bound to loopback or with POLICYBOT_WEB_TOKEN set, and then every call
must present the token; rate-limited like the rest. The reload itself is BotRuntime's; this
only says over HTTP what it did: 200 reloaded or unchanged, 422 rejected (every problem as
file:line), 503 the build failed or the first load has not finished.
"""
from __future__ import annotations

from aiohttp import web

from .appkeys import RUNTIME
from .knowledge_watch import COMMAND
from .runtime import REJECTED, RELOADED, UNCHANGED

RELOAD_PATH = "/api/knowledge/reload"


async def reload(request: web.Request) -> web.Response:
    outcome = await request.app[RUNTIME].reload(COMMAND)
    status = 200 if outcome.outcome in (RELOADED, UNCHANGED) else 422 if outcome.outcome == REJECTED else 503
    body = outcome.as_dict()
    if status != 200:
        body["error"] = outcome.message
    return web.json_response(body, status=status)


def mount(app: web.Application) -> None:
    app.router.add_post(RELOAD_PATH, reload)
