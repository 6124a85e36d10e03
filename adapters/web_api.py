"""The web chat channel: the page at / and its JSON API.

GET  /api/schools          schools, their leads' roles and their policies with review dates
POST /api/ask              {"school", "question", "client"?} -> the Answer contract of `policybot batch`;
                           an escalated or urgent answer also creates the escalation ("escalation")
POST /api/escalate         {"school", "question", "client"?}: the asker's "Ask <lead>" button
POST /api/feedback         {"ref", "helpful": true|false, "client"?}: Helpful / Not helpful on an answer
                           (`feedback_ref` in the /api/ask answer when the feedback record is kept)
GET  /api/escalations/{id} its status and, once answered, the lead's answer (the page polls it)
POST /api/history          {"conversation"}: that conversation's questions, the replies shown and any
                           lead answer since (ask and escalate take "conversation" too, and escalate
                           "turn", to keep them). In the body, not the path: the id is the only key to
                           the history, and paths are logged.

Errors are {"error": "..."} with a message fit to show staff. No policy logic lives here:
the core decides, this translates HTTP to and from it.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

from aiohttp import web

from bot.decide.answer import URGENT, QuestionError, sent_unasked
from bot.escalations.conversations import TURN_ID, valid_conversation_id
from bot.escalations.model import ASKED_BY_USER, Asker, NotFound, iso
from bot.knowledge.load import Contact, School, UnknownSchool
from bot.escalations.delivery import not_recorded
from bot.escalations.reach import school_reach
from bot.render import answer_json, as_escalation, clause_plain, delivery_line

from .appkeys import CAN_ESCALATE, RUNTIME, SETTINGS
from .escalation_wiring import ESCALATIONS
from . import web_requests
from .request_log import REQUEST_ID, log_decision
from .web_requests import WebRequest
from .runtime import NotReady
from .web_security import json_error, read_json_object, request_address

PAGE_DIR = Path(__file__).resolve().parent / "web"
STATIC_FILES = {"/": "index.html", "/app.js": "app.js", "/common.js": "common.js", "/style.css": "style.css"}


def _not_ready(exc: NotReady) -> web.Response:
    return json_error(503, f"The bot is not ready yet ({exc}); please try again in a moment.",
                      {"Retry-After": "2"})


def _contact(c: Contact) -> dict:
    return {"role": c.role, "name": c.name}


def school_json(school: School, today, can_escalate: bool, channels: tuple[str, ...] = ()) -> dict:
    return {
        "slug": school.slug, "name": school.name,
        "lead": _contact(school.lead), "deputy": _contact(school.deputy),
        "policies": [{"id": p.id, "title": p.title, "next_review": p.next_review,
                      "due": p.next_review_by.isoformat(), "overdue": p.overdue(today)}
                     for p in school.policies],
        "can_escalate": can_escalate,
        # Which channels can reach the lead and deputy here, so the page can say before anyone
        # relies on it that questions would reach nobody.
        "reach": school_reach(school, channels).as_dict(),
    }


def _notice_channels(request: web.Request) -> tuple[str, ...]:
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return ()
    return tuple(holder.service.registry.channels())


async def schools(request: web.Request) -> web.Response:
    try:
        kb = request.app[RUNTIME].bot.kb
    except NotReady as exc:
        return _not_ready(exc)
    today = request.app[SETTINGS].current_date()
    can_escalate = request.app[CAN_ESCALATE]
    channels = _notice_channels(request)
    return web.json_response({"schools": [school_json(kb.schools[slug], today, bool(can_escalate(slug)), channels)
                                          for slug in sorted(kb.schools)]})


def display_fields(out: dict) -> dict:
    """Adds the clause text as the console shows it (source links and ** marks dropped), so the
    page shows the same words; the contract's own fields are left exactly as they are."""
    for cite in out["citations"]:
        cite["display_text"] = clause_plain(cite["text"])
        cite["display_lead_in"] = clause_plain(cite["lead_in"])
    return out


async def _answer_request(request: web.Request, before=None):
    """Reads {"school", "question"} and asks the core: (payload, question, answer), or the
    error response to send. Shared by "ask" and "Ask <lead>" so both refuse the same things.
    `before(payload, school, question)`, when given, runs first and may return the response to
    send instead (a retried request's reply)."""
    settings = request.app[SETTINGS]
    payload = await read_json_object(request, settings.max_body_bytes, '{"school": "slug", "question": "..."}',
                                     "; please ask a shorter question")
    if isinstance(payload, web.Response):
        return payload
    school, question = payload.get("school"), payload.get("question")
    if not isinstance(school, str) or not school:
        return json_error(400, "Please choose a school.")
    if question is None:
        return json_error(400, "Please type a question.")
    if before is not None and isinstance(question, str):
        early = await before(payload, school, question)
        if early is not None:
            return early
    try:
        answer = await request.app[RUNTIME].answer(school, question)
    except NotReady as exc:
        return _not_ready(exc)
    except UnknownSchool as exc:
        return json_error(404, str(exc))
    except QuestionError as exc:
        return json_error(400, str(exc))
    return payload, question, answer


BAD_CONVERSATION = "That conversation id is not one this page makes (32 or more letters, digits, '-' or '_')."


def _conversation(payload: dict) -> str | None:
    """The browser's conversation id when the page sent a well-formed one (else None)."""
    conv = payload.get("conversation")
    return conv if valid_conversation_id(conv) else None


async def ask(request: web.Request) -> web.Response:
    started = time.perf_counter()
    asked: list[WebRequest] = []  # the request id's record, when the page sent one (web_requests.py)

    async def before(payload: dict, school: str, question: str) -> web.Response | None:
        if payload.get("conversation") is not None and _conversation(payload) is None:
            return json_error(400, BAD_CONVERSATION)
        begun = await web_requests.begin(request, payload, school, question)
        if isinstance(begun, WebRequest):
            asked.append(begun)
            return None
        return begun

    result = await _answer_request(request, before)
    if isinstance(result, web.Response):
        return result
    payload, question, answer = result
    if payload.get("conversation") is not None and _conversation(payload) is None:
        return json_error(400, BAD_CONVERSATION)
    once = asked[0] if asked else None
    ms = (time.perf_counter() - started) * 1000
    request_id = request.get(REQUEST_ID, "-")
    log_decision(request_id, answer, ms, question if request.app[SETTINGS].log_questions else None)
    esc, delivery = None, None
    if sent_unasked(answer):
        esc, delivery = await _escalate(request, answer, question, payload, None,
                                        once.dedupe_key if once else f"web:{request_id}")
    out = display_fields(answer_json(answer, delivery=delivery))
    if delivery is not None:
        out["escalation"] = _escalation_json(esc) if esc else None
        out["delivery_text"] = delivery_line(answer, delivery)
    ref = await _record_answer(request, answer, question, payload, once.feedback_ref if once else None)
    if ref:
        out["feedback_ref"] = ref
    holder = request.app.get(ESCALATIONS)
    conv = _conversation(payload)
    if conv and holder is not None and holder.service is not None:  # kept for this browser's reloads
        turn = await holder.service.record_turn(conv, answer.school, question, out, esc.id if esc else None,
                                                turn_id=once.turn_id if once else None)
        if turn:
            out["turn"] = turn
    if once is not None:
        await once.done(out)
    return web.json_response(out)


async def _record_answer(request: web.Request, answer, question: str, payload: dict,
                         ref: str | None = None) -> str | None:
    """Counts the answer in the shared feedback record (once per `ref`: a retried request's is
    fixed); its reference for the page's Helpful / Not helpful buttons, or None when this server
    keeps no record (or the write failed)."""
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return None
    fixed, ref = ref is not None, ref or "web:" + uuid.uuid4().hex[:16]
    ok = await holder.service.record_answer(answer, ref, "web", _asker(request, payload).user_id, question)
    if not ok and fixed:  # counted already, by a first attempt of this request that died after it?
        try:
            ok = bool(await holder.service.store.feedback(answer_ref=ref))
        except Exception:  # noqa: BLE001 - the store failed: no buttons, the answer still goes out
            ok = False
    return ref if ok else None


async def feedback(request: web.Request) -> web.Response:
    """Helpful / Not helpful under an answer: one vote per browser tab per answer, a second press
    changing it."""
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return json_error(503, "Feedback is not recorded on this server.")
    payload = await read_json_object(request, request.app[SETTINGS].max_body_bytes, '{"ref": "...", "helpful": true}')
    if isinstance(payload, web.Response):
        return payload
    ref, helpful = payload.get("ref"), payload.get("helpful")
    if not isinstance(ref, str) or not ref.startswith("web:") or len(ref) > 64 or not isinstance(helpful, bool):
        return json_error(400, 'Please send JSON like {"ref": "...", "helpful": true}.')
    if not await holder.service.record_feedback(ref, "web", _asker(request, payload).user_id, helpful):
        return json_error(404, "That answer is not known here (or the record is unavailable); thank you anyway.")
    return web.json_response({"recorded": True, "ref": ref, "helpful": helpful})


def _asker(request: web.Request, payload: dict) -> Asker:
    """The web asker: the page's per-tab id (or the client address, through trusted proxies), so
    answers find their way back."""
    client = payload.get("client")
    client = (client if isinstance(client, str) and 0 < len(client) <= 64
              else request_address(request, request.app[SETTINGS]))
    return Asker(platform="web", user_id=client, conversation=client, display_name="web chat user")


async def _escalate(request: web.Request, answer, question: str, payload: dict, reason: str | None,
                    dedupe_key: str):
    """(escalation or None, what happened to it): None with NOT_RECORDED when this server has
    no escalation store or the store failed."""
    holder = request.app.get(ESCALATIONS)
    if holder is None:
        return None, not_recorded("escalations are not set up on this server")
    wait = request.app[SETTINGS].delivery_wait_seconds
    return await holder.escalate(answer, question, _asker(request, payload), reason, dedupe_key, wait)


def _escalation_json(esc) -> dict:
    return {"id": esc.id, "status": esc.status, "urgent": esc.urgent, "lead": esc.lead.display,
            "answered_by": esc.answered_by, "answer": esc.answer_text}


async def escalate(request: web.Request) -> web.Response:
    """"Ask <lead>": the asker wants a person, whatever the bot's confidence."""
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return json_error(503, "Escalation is not available on this server; please contact your "
                               "online-safety lead directly.")
    result = await _answer_request(request)
    if isinstance(result, web.Response):
        return result
    payload, question, answer = result
    if payload.get("conversation") is not None and _conversation(payload) is None:
        return json_error(400, BAD_CONVERSATION)
    reason = None if answer.decision == URGENT else ASKED_BY_USER
    esc, delivery = await _escalate(request, answer, question, payload, reason, f"web:{request.get(REQUEST_ID, '-')}")
    text = delivery_line(as_escalation(answer), delivery)
    conv, turn = _conversation(payload), payload.get("turn")
    if esc is not None and conv and isinstance(turn, str) and TURN_ID.match(turn):
        await holder.service.attach_escalation(conv, turn, esc.id)  # its lead answer shows after a reload
    if esc is None:
        return web.json_response({"error": text, "delivery": delivery.as_dict()}, status=503)
    return web.json_response({"escalation": _escalation_json(esc), "delivery": delivery.as_dict(), "text": text},
                             status=201)


async def escalation_status(request: web.Request) -> web.Response:
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return json_error(503, "Escalation is not available on this server.")
    try:
        esc = await holder.service.get(request.match_info["id"])
    except NotFound:
        return json_error(404, "No such escalation.")
    return web.json_response({"escalation": _escalation_json(esc)})


async def history(request: web.Request) -> web.Response:
    """The browser's conversation: each question, the reply it was shown, and the escalation as
    it is now (so a lead answer that came since is there). Only the conversation whose id the
    body carries; an id never seen gets an empty list, the same as one whose turns were purged."""
    holder = request.app.get(ESCALATIONS)
    if holder is None or holder.service is None:
        return json_error(503, "Conversations are not kept on this server.")
    payload = await read_json_object(request, request.app[SETTINGS].max_body_bytes,
                                     '{"conversation": "<the id this page keeps>"}')
    if isinstance(payload, web.Response):
        return payload
    if not valid_conversation_id(payload.get("conversation")):
        return json_error(400, 'Please send JSON like {"conversation": "<the id this page keeps>"}.')
    try:
        turns = await holder.service.history(payload["conversation"])
    except Exception as exc:  # noqa: BLE001 - the store failed: say so, never a 500
        return json_error(503, f"The conversation cannot be read just now ({type(exc).__name__}); "
                               "please try again.")
    return web.json_response({"turns": [
        {"id": t.id, "question": t.question, "asked_at": iso(t.created_at), "reply": t.reply,
         "escalation": _escalation_json(esc) if esc else None}
        for t, esc in turns]})


def static_file(name: str):
    """A handler serving one of the page's files (adapters/web/), never cached stale."""
    path = PAGE_DIR / name

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve


def mount(app: web.Application) -> None:
    for route, name in STATIC_FILES.items():
        app.router.add_get(route, static_file(name))
    app.router.add_get("/api/schools", schools)
    app.router.add_post("/api/ask", ask)
    app.router.add_post("/api/escalate", escalate)
    app.router.add_get("/api/escalations/{id}", escalation_status)
    app.router.add_post("/api/feedback", feedback)
    app.router.add_post("/api/history", history)
