"""One log line per request and one per decision, joined by a request id.

Question text is left out unless POLICYBOT_LOG_QUESTIONS=1: staff questions may name
children, and logs travel further than the people the question was meant for.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Awaitable, Callable

from aiohttp import web

from bot.decide.answer import Answer

from .log_format import path_field

request_log = logging.getLogger("policybot.request")
decision_log = logging.getLogger("policybot.decision")

REQUEST_ID = web.RequestKey("request_id", str)
REQUEST_ID_HEADER = "X-Request-Id"


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def log_decision(request_id: str, answer: Answer, ms: float, question: str | None = None) -> None:
    """Channel-neutral, so Slack and Teams log their decisions the same way. Pass `question`
    only when settings.log_questions is on."""
    cites = ",".join(c.clause_id for c in answer.citations) or "-"
    line = (f"decision id={request_id} school={answer.school} decision={answer.decision} "
            f"reason={answer.reason} confidence={answer.confidence:.3f} citations={cites} ms={ms:.1f}")
    if question is not None:
        line += f" question={json.dumps(question, ensure_ascii=False)}"
    decision_log.info(line)


@web.middleware
async def log_requests(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Outermost middleware: gives the request its id and logs how it ended, errors included."""
    request[REQUEST_ID] = rid = new_request_id()
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = rid
        raise
    finally:
        ms = (time.perf_counter() - started) * 1000
        request_log.info("request id=%s method=%s path=%s status=%d ms=%.1f",
                         rid, path_field(request.method), path_field(request.path), status, ms)
