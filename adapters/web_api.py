"""The web chat channel: the page at / and its JSON API.

GET  /api/schools  schools, their leads' roles and their policies with review dates
POST /api/ask      {"school", "question"} -> the Answer contract of `policybot batch`

Errors are {"error": "..."} with a message fit to show staff. No policy logic lives here:
the core decides, this translates HTTP to and from it.
"""
from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web

from bot.answer import QuestionError
from bot.knowledge import Contact, School, UnknownSchool
from bot.render import answer_json, clause_plain

from .appkeys import CAN_ESCALATE, RUNTIME, SETTINGS
from .request_log import REQUEST_ID, log_decision
from .runtime import NotReady
from .web_security import BodyTooLarge, json_error, read_json_capped

PAGE_DIR = Path(__file__).resolve().parent / "web"
STATIC_FILES = {"/": "index.html", "/app.js": "app.js", "/style.css": "style.css"}


def _not_ready(exc: NotReady) -> web.Response:
    return json_error(503, f"The bot is not ready yet ({exc}); please try again in a moment.",
                      {"Retry-After": "2"})


def _contact(c: Contact) -> dict:
    return {"role": c.role, "name": c.name}


def school_json(school: School, today, can_escalate: bool) -> dict:
    return {
        "slug": school.slug, "name": school.name,
        "lead": _contact(school.lead), "deputy": _contact(school.deputy),
        "policies": [{"id": p.id, "title": p.title, "next_review": p.next_review,
                      "due": p.next_review_by.isoformat(), "overdue": p.overdue(today)}
                     for p in school.policies],
        "can_escalate": can_escalate,
    }


async def schools(request: web.Request) -> web.Response:
    try:
        kb = request.app[RUNTIME].bot.kb
    except NotReady as exc:
        return _not_ready(exc)
    today = request.app[SETTINGS].current_date()
    can_escalate = request.app[CAN_ESCALATE]
    return web.json_response({"schools": [school_json(kb.schools[slug], today, bool(can_escalate(slug)))
                                          for slug in sorted(kb.schools)]})


def _display_fields(out: dict) -> dict:
    """Adds the clause text as the console shows it (source links and ** marks dropped), so the
    page shows the same words; the contract's own fields are left exactly as they are."""
    for cite in out["citations"]:
        cite["display_text"] = clause_plain(cite["text"])
        cite["display_lead_in"] = clause_plain(cite["lead_in"])
    return out


async def ask(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    try:
        payload = await read_json_capped(request, settings.max_body_bytes)
    except BodyTooLarge:
        return json_error(413, f"That request is too large (over {settings.max_body_bytes:,} bytes); "
                               "please ask a shorter question.")
    except ValueError:
        return json_error(400, 'Please send JSON like {"school": "slug", "question": "..."}.')
    if not isinstance(payload, dict):
        return json_error(400, 'Please send a JSON object like {"school": "slug", "question": "..."}.')
    school, question = payload.get("school"), payload.get("question")
    if not isinstance(school, str) or not school:
        return json_error(400, "Please choose a school.")
    if question is None:
        return json_error(400, "Please type a question.")
    started = time.perf_counter()
    try:
        answer = await request.app[RUNTIME].answer(school, question)
    except NotReady as exc:
        return _not_ready(exc)
    except UnknownSchool as exc:
        return json_error(404, str(exc))
    except QuestionError as exc:
        return json_error(400, str(exc))
    ms = (time.perf_counter() - started) * 1000
    log_decision(request.get(REQUEST_ID, "-"), answer, ms, question if settings.log_questions else None)
    return web.json_response(_display_fields(answer_json(answer)))


def _static(name: str):
    path = PAGE_DIR / name

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve


def mount(app: web.Application) -> None:
    for route, name in STATIC_FILES.items():
        app.router.add_get(route, _static(name))
    app.router.add_get("/api/schools", schools)
    app.router.add_post("/api/ask", ask)
    # --- escalation (issue 5): POST /api/escalate, behind the same guard, goes here ---
