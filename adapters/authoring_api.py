"""The lead's authoring view: upload a policy, review the draft beside the live clauses, try
questions on it, accept it, all while the server keeps answering from the live knowledge.

GET  /author                              the page (adapters/web/author.html, author.js)
POST /api/authoring/drafts?school=&policy_id=&filename=[&name=&lead_role=&lead_name=&lead_email=
                           &deputy_role=&deputy_name=&deputy_email=]
                                          the document as the request body (at most
                                          POLICYBOT_MAX_UPLOAD_BYTES) -> 201 the draft; `name` etc.
                                          add a school the knowledge base does not have yet
GET  /api/authoring/drafts/{id}           the draft, the live clauses, the diff, its problems
POST /api/authoring/drafts/{id}/edit      {"about": {clause id: [phrases]}, "metadata": {field: text}}
POST /api/authoring/drafts/{id}/ask       {"question"} -> the answer the draft would give
POST /api/authoring/drafts/{id}/accept    write the reviewed files, then reload (no restart)
DELETE /api/authoring/drafts/{id}         discard it

Under /api/, so behind the web chat's token rule (adapters/web_security.py) and rate limit. The
drafting itself is bot/knowledge/authoring.py's; this module is HTTP and where drafts are kept
(the server's database when it has one, so a restart or another worker process finds them; see
Drafts).
Every refusal is a 4xx JSON error in words fit for the lead, never a 500: documents come from
outside, so whatever a reader library raises on a damaged file is answered 422.
"""
from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.decide.answer import QuestionError
from bot.escalations.inbox import InboxUnavailable
from bot.knowledge import authoring
from bot.knowledge.documents import SUFFIXES, DocumentError
from bot.knowledge.load import Contact, KnowledgeError
from bot.knowledge.school_file import explain
from bot.render import answer_json
from bot.service import build_like

from .appkeys import RUNTIME, SETTINGS
from .runtime import NotReady, ReloadOutcome
from .store_wiring import STORE, StoreHolder
from .web_api import display_fields, static_file
from .web_security import BodyTooLarge, json_error, read_capped, read_json_object

log = logging.getLogger("policybot.server")

MAX_DRAFTS = 16  # the oldest is forgotten beyond this
AUTHORING = "authoring"
# What a real file of each kind starts with; anything else under that name is refused unread.
MAGIC = {".docx": (b"PK\x03\x04",), ".pdf": (b"%PDF-",)}


@dataclass
class Entry:
    draft: authoring.PolicyDraft
    created: float = field(default_factory=time.time)
    bot: object = None
    bot_revision: int = -1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stored: bool = False  # in the database (so another process may have accepted or discarded it)


class Drafts:
    """Drafts under review, by id, and one thread to read documents and build draft bots on.

    With the server's database (`serve` opens it), every draft is also stored there: a restart
    keeps it, and with `serve --workers N` whichever process a request reaches finds it. Without
    one (a test app, or the database down) drafts live in this process only, as the 404 says.
    Memory holds what this process built from a draft (the draft bot), by revision."""

    def __init__(self, holder: StoreHolder | None = None) -> None:
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authoring")
        self.holder = holder

    def _store(self):
        if self.holder is None:
            return None
        try:
            return self.holder.get()
        except InboxUnavailable:
            return None

    def _remember(self, ident: str, entry: Entry) -> None:
        self.entries[ident] = entry
        self.entries.move_to_end(ident)
        while len(self.entries) > MAX_DRAFTS:
            self.entries.popitem(last=False)

    async def add(self, draft: authoring.PolicyDraft) -> str:
        ident = uuid.uuid4().hex[:16]
        self._remember(ident, Entry(draft))
        await self.save(ident)
        return ident

    async def get(self, ident: str) -> Entry | None:
        """The draft: this process's copy when it is current, else the stored one."""
        entry, store = self.entries.get(ident), self._store()
        if store is None:
            return entry
        try:
            stored = await store.draft_load(ident)
        except Exception as exc:  # noqa: BLE001 - the database down: this process's copy, if any
            log.warning("authoring: cannot read draft %s from the database (%s)", ident, type(exc).__name__)
            return entry
        if stored is None:
            if entry is not None and not entry.stored:
                return entry  # it could not be stored: this process's copy is all there is
            self.entries.pop(ident, None)  # accepted or discarded (by any process), or purged
            return None
        body, created = stored
        if entry is None or entry.draft.revision < body.get("revision", 0):
            try:
                draft = authoring.draft_from_dict(body)
            except authoring.DraftError as exc:
                log.error("authoring: draft %s: %s", ident, exc)
                return None
            entry = Entry(draft, created, stored=True)
            self._remember(ident, entry)
        return entry

    async def save(self, ident: str) -> None:
        """Store the draft's current revision (kept in memory alone when there is no database)."""
        entry, store = self.entries.get(ident), self._store()
        if entry is None or store is None:
            return
        try:
            await store.draft_save(ident, entry.draft.school, authoring.draft_to_dict(entry.draft),
                                   entry.draft.revision, time.time())
            entry.stored = True
        except Exception as exc:  # noqa: BLE001 - the draft still works here; said in the log
            log.warning("authoring: draft %s kept in this process only: cannot store it (%s: %s)", ident,
                        type(exc).__name__, exc)

    async def remove(self, ident: str) -> None:
        self.entries.pop(ident, None)
        if (store := self._store()) is not None:
            try:
                await store.draft_delete(ident)
            except Exception as exc:  # noqa: BLE001 - the purge deletes it later
                log.warning("authoring: cannot delete stored draft %s (%s)", ident, type(exc).__name__)

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)


DRAFTS = web.AppKey("authoring_drafts", Drafts)


def _problems(exc: KnowledgeError) -> list[dict]:
    return [{"problem": str(p), "hint": explain(p.message)} for p in exc.problems]


def _knowledge_error(exc: KnowledgeError, what: str) -> web.Response:
    body = {"error": f"{what}: the draft has {len(exc.problems)} problem(s); fix them first.",
            "problems": _problems(exc)}
    return web.json_response(body, status=422)


def _runtime_kb(request: web.Request):
    return request.app[RUNTIME].bot.kb


async def _view(request: web.Request, ident: str, entry: Entry, status: int = 200) -> web.Response:
    """The draft as the page shows it: clauses beside the live ones, the diff, what blocks accepting."""
    drafts, root = request.app[DRAFTS], request.app[SETTINGS].knowledge_dir
    draft = entry.draft

    def build() -> dict:
        out = authoring.draft_json(draft, _runtime_kb(request))
        out["diff"] = authoring.diff_with_live(draft, root)
        try:
            authoring.validate(draft, root)
            out["problems"] = []
        except KnowledgeError as exc:
            out["problems"] = _problems(exc)
        return out

    out = await drafts.run(build)
    out["id"] = ident
    return web.json_response(out, status=status)


def _new_school(q) -> authoring.NewSchool | None:
    if not q.get("name", "").strip():
        return None

    def contact(who: str, role: str) -> Contact:
        return Contact(role=q.get(f"{who}_role", "").strip() or role, name=q.get(f"{who}_name", "").strip(),
                       email=q.get(f"{who}_email", "").strip())

    return authoring.NewSchool(" ".join(q["name"].split()), contact("lead", "Online Safety Lead"),
                               contact("deputy", "Designated Safeguarding Lead"))


def _suffix_problem(filename: str, body: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        return (f"{filename or 'That file'}: policybot reads Word (.docx), PDF, HTML, .txt and .md files; save the "
                "policy as one of those (an old .doc as .docx).")
    starts = MAGIC.get(suffix)
    if starts and not body.startswith(starts):
        kind = "Word .docx" if suffix == ".docx" else "PDF"
        return f"{filename} is not a {kind} file (it is named one, but its contents are something else)."
    if suffix not in MAGIC and b"\x00" in body[:4096]:
        return f"{filename} is not a text file (it holds binary data)."
    return ""


async def upload(request: web.Request) -> web.Response:
    settings, q = request.app[SETTINGS], request.query
    cap = settings.max_upload_bytes
    try:
        body = await read_capped(request, cap)
    except BodyTooLarge:
        return json_error(413, f"That file is too large (over {cap // (1024 * 1024) or 1} MB). A policy document is "
                               "usually well under that; save it without embedded images.")
    school, policy_id = q.get("school", "").strip(), q.get("policy_id", "").strip() or "social-media-policy"
    filename = " ".join(q.get("filename", "").split())[:200]
    if not body:
        return json_error(400, "Choose the policy document to upload.")
    if problem := _suffix_problem(filename, body):
        return json_error(415, problem)
    try:
        kb = _runtime_kb(request)
        authoring.check_target(kb, settings.knowledge_dir, school, policy_id, _new_school(q))
    except NotReady as exc:
        return json_error(503, f"Not ready yet ({exc}); please try again in a moment.", {"Retry-After": "2"})
    except authoring.DraftError as exc:
        return json_error(400, str(exc))

    def read() -> authoring.PolicyDraft:
        with tempfile.TemporaryDirectory(prefix="policybot-upload-") as tmp:
            path = Path(tmp) / f"upload{Path(filename).suffix.lower()}"
            path.write_bytes(body)
            return authoring.start_draft(path, filename, settings.knowledge_dir, school, policy_id, _new_school(q))

    drafts = request.app[DRAFTS]
    try:
        draft = await drafts.run(read)
    except (DocumentError, authoring.DraftError) as exc:
        return json_error(422, str(exc).replace("upload" + Path(filename).suffix.lower(), filename))
    except Exception as exc:  # noqa: BLE001 - a damaged document may make a reader library raise anything
        log.warning("authoring: could not read an uploaded %s (%s)", Path(filename).suffix.lower(), type(exc).__name__)
        return json_error(422, f"{filename} could not be read as a policy document (it may be damaged); "
                               "open it in Word and save it again, or save it as PDF.")
    ident = await drafts.add(draft)
    log.info("authoring: draft %s for %s/%s, %d clauses", ident, school, policy_id, len(draft.clauses))
    return await _view(request, ident, drafts.entries[ident], status=201)


async def _entry(request: web.Request) -> tuple[str, Entry | None]:
    ident = request.match_info["id"]
    return ident, await request.app[DRAFTS].get(ident)


def _gone(request: web.Request) -> web.Response:
    kept = ("until accepted or discarded, or for 30 days without an edit" if request.app[DRAFTS].holder is not None
            else "in this server process only, until accepted, discarded or it restarts")
    return json_error(404, f"No such draft. Drafts are kept {kept}; upload the document again.")


async def show(request: web.Request) -> web.Response:
    ident, entry = await _entry(request)
    return _gone(request) if entry is None else await _view(request, ident, entry)


async def _json_object(request: web.Request, example: str) -> dict | web.Response:
    return await read_json_object(request, request.app[SETTINGS].max_body_bytes, example)


async def edit(request: web.Request) -> web.Response:
    ident, entry = await _entry(request)
    if entry is None:
        return _gone(request)
    payload = await _json_object(request, '{"about": {"<clause id>": ["..."]}, "metadata": {"<field>": "..."}}')
    if isinstance(payload, web.Response):
        return payload
    about, metadata = payload.get("about"), payload.get("metadata")
    if not isinstance(about, (dict, type(None))) or not isinstance(metadata, (dict, type(None))):
        return json_error(400, 'Send {"about": {"CLAUSE ID": ["phrase", ...]}} and/or {"metadata": {"title": "..."}}.')
    try:
        authoring.edit(entry.draft, about, metadata)
    except authoring.DraftError as exc:
        return json_error(400, str(exc))
    await request.app[DRAFTS].save(ident)
    return await _view(request, ident, entry)


def _draft_bot(request: web.Request, entry: Entry):
    """A PolicyBot over the live knowledge with this school replaced by the draft (on the
    authoring thread; KnowledgeError when the draft would not load)."""
    settings, live = request.app[SETTINGS], request.app[RUNTIME].bot
    checked = authoring.validate(entry.draft, settings.knowledge_dir)
    return build_like(settings, authoring.with_draft(live.kb, checked, entry.draft.school), live)


async def ask(request: web.Request) -> web.Response:
    ident, entry = await _entry(request)
    if entry is None:
        return _gone(request)
    payload = await _json_object(request, '{"question": "..."}')
    if isinstance(payload, web.Response):
        return payload
    question = payload.get("question")
    try:
        async with entry.lock:  # one build per revision, however many questions arrive at once
            if entry.bot is None or entry.bot_revision != entry.draft.revision:
                revision = entry.draft.revision
                entry.bot = await request.app[DRAFTS].run(_draft_bot, request, entry)
                entry.bot_revision = revision
        bot = entry.bot
        answer = await request.app[DRAFTS].run(bot.answer, entry.draft.school, question)
    except NotReady as exc:
        return json_error(503, f"Not ready yet ({exc}); please try again in a moment.", {"Retry-After": "2"})
    except KnowledgeError as exc:
        return _knowledge_error(exc, "Cannot try questions yet")
    except QuestionError as exc:
        return json_error(400, str(exc))
    out = display_fields(answer_json(answer))
    out["draft"] = ident
    return web.json_response(out)


async def accept(request: web.Request) -> web.Response:
    ident, entry = await _entry(request)
    if entry is None:
        return _gone(request)
    drafts, runtime = request.app[DRAFTS], request.app[RUNTIME]
    root = request.app[SETTINGS].knowledge_dir
    try:
        written = await drafts.run(authoring.accept, entry.draft, root)
    except KnowledgeError as exc:
        return _knowledge_error(exc, "Not accepted")
    except OSError as exc:
        log.error("authoring: cannot write draft %s: %s", ident, exc)
        return json_error(507, f"The files could not be written ({exc.strerror or exc}); nothing went live.")
    await drafts.remove(ident)
    log.info("authoring: draft %s accepted: wrote %s", ident, ", ".join(written))
    outcome: ReloadOutcome = await runtime.reload(AUTHORING)
    return web.json_response({"accepted": True, "written": written, "live": outcome.ok,
                              "reload": outcome.as_dict()})


async def discard(request: web.Request) -> web.Response:
    ident, entry = await _entry(request)
    if entry is None:
        return _gone(request)
    await request.app[DRAFTS].remove(ident)
    return web.json_response({"discarded": ident})


def mount(app: web.Application) -> None:
    """The authoring endpoints; drafts are stored in the server's database when it has one
    (mounted after escalation_wiring.install, which opens it)."""
    app[DRAFTS] = drafts = Drafts(app.get(STORE))

    async def close(app: web.Application):
        yield
        drafts.pool.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(close)
    app.router.add_get("/author", static_file("author.html"))
    app.router.add_get("/author.js", static_file("author.js"))
    app.router.add_post("/api/authoring/drafts", upload)
    app.router.add_get("/api/authoring/drafts/{id}", show)
    app.router.add_post("/api/authoring/drafts/{id}/edit", edit)
    app.router.add_post("/api/authoring/drafts/{id}/ask", ask)
    app.router.add_post("/api/authoring/drafts/{id}/accept", accept)
    app.router.add_delete("/api/authoring/drafts/{id}", discard)
