"""GET /healthz (the process answers) and GET /readyz (it can do its job).

Always mounted and never behind the web token: platforms and load balancers probe them
without credentials, and they reveal only counts and a short reason.
"""
from __future__ import annotations

from aiohttp import web

from .appkeys import READINESS_CHECKS, READINESS_NOTES, RUNTIME


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        body = {"ready": False, "reason": runtime.failure or "loading knowledge base"}
        if runtime.last_reload is not None:  # a start that failed, then a reload that was tried
            body.update(runtime.knowledge_info())
        return web.json_response(body, status=503)
    for check in request.app[READINESS_CHECKS]:
        reason = await check()
        if reason:
            return web.json_response({"ready": False, "reason": reason}, status=503)
    kb = runtime.bot.kb
    clauses = sum(len(s.clauses) for s in kb.schools.values())
    body = {"ready": True, "schools": len(kb.schools), "clauses": clauses, **runtime.stages, **runtime.knowledge_info()}
    for note in request.app[READINESS_NOTES]:
        body.update(note())
    return web.json_response(body)


def mount(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
