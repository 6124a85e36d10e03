"""The core as the server holds it: built once off the event loop, answered on a bounded pool.

Why a separate object: every channel (web chat now, Slack and Teams later) answers through
the same bot, readiness needs to know whether it is built yet, and shutdown needs one place
to wait for answers in flight. Nothing here knows HTTP.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from bot.decide.answer import Answer, PolicyBot
from bot.config import Settings
from bot.knowledge.load import KnowledgeError
from bot.service import build_bot

log = logging.getLogger("policybot.server")

BotFactory = Callable[[Settings], PolicyBot]

# Answers are ~10 ms of CPU each; a handful of threads keeps the loop free without letting a
# burst of requests queue unbounded work behind the GIL.
ANSWER_WORKERS = 4


class NotReady(RuntimeError):
    """The bot is still loading, or failed to load; the message says which."""


class BotRuntime:
    """Owns the PolicyBot once built and the pool its answers run on."""

    def __init__(self, settings: Settings, factory: BotFactory = build_bot, workers: int = ANSWER_WORKERS):
        self.settings, self._factory = settings, factory
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="answer")
        self._bot: PolicyBot | None = None
        self.failure: str = ""
        self._settled = asyncio.Event()  # set once load() has finished, either way

    @property
    def bot(self) -> PolicyBot:
        if self._bot is None:
            raise NotReady(self.failure or "loading knowledge base")
        return self._bot

    @property
    def ready(self) -> bool:
        return self._bot is not None

    async def wait_loaded(self, timeout: float = 60.0) -> bool:
        """For channels answering stored questions at start: wait (without polling) until the
        bot has loaded or failed to; True when it is ready."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.ready

    async def load(self) -> None:
        """Build the bot on a worker thread; a failure is kept as the readiness reason, not raised,
        so /healthz and /readyz keep answering and say what went wrong."""
        try:
            await self._load()
        finally:
            self._settled.set()

    async def _load(self) -> None:
        started = time.perf_counter()
        try:
            bot = await asyncio.get_running_loop().run_in_executor(self._pool, self._factory, self.settings)
        except KnowledgeError as exc:
            self.failure = f"knowledge base has {len(exc.problems)} problem(s); run `policybot kb check`"
            log.error("not ready: %s\n%s", self.failure, exc)
            return
        except Exception as exc:  # noqa: BLE001 - any build failure must surface as "not ready"
            self.failure = f"could not build the bot: {type(exc).__name__}: {exc}"
            log.exception("not ready: %s", self.failure)
            return
        self._bot = bot
        clauses = sum(len(s.clauses) for s in bot.kb.schools.values())
        log.info("ready: %d schools, %d clauses (%.1f s)", len(bot.kb.schools), clauses,
                 time.perf_counter() - started)

    async def answer(self, school: str, question: str) -> Answer:
        """Raises NotReady, UnknownSchool or QuestionError, as the core does."""
        bot = self.bot
        return await asyncio.get_running_loop().run_in_executor(self._pool, bot.answer, school, question)

    def close(self) -> None:
        """Called after the HTTP server has drained its handlers, so nothing still awaits the pool;
        queued work that no handler waits for is dropped rather than run."""
        self._pool.shutdown(wait=False, cancel_futures=True)
