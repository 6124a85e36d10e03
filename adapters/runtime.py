"""The core as the server holds it: built off the event loop, answered on a bounded pool,
and swapped for a new build when the knowledge changes.

Why a separate object: every channel (web chat, Slack, Teams) answers through the same bot,
readiness needs to know whether it is built yet, shutdown needs one place to wait for answers
in flight, and a reload needs one place to swap. Nothing here knows HTTP.

Reload (a changed file, `policybot reload`, SIGHUP, the authoring view's accept): the new bot
is built completely on the reload thread (knowledge validated as `policybot kb check` does,
new clause vectors encoded) while the old one keeps answering; then one assignment swaps it
in. A question already answering holds the old bot and finishes on it. A build that fails
leaves the old bot serving and is kept as `last_reload`, with every problem as file:line.
"""
from __future__ import annotations

import asyncio
import collections.abc
import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from bot.decide.answer import Answer, PolicyBot
from bot.config import Settings
from bot.knowledge import stamps as kb_stamps
from bot.knowledge.load import KnowledgeError
from bot.knowledge.school_file import explain
from bot.service import BM25, BotBuilder

log = logging.getLogger("policybot.server")

# A bot, or the bots in the order they can serve (BotBuilder's first call: BM25 at once, then
# fused once the clause vectors are ready); at start each replaces the last as soon as it is built.
BotFactory = Callable[[Settings], PolicyBot | Iterator[PolicyBot]]


class NotReady(RuntimeError):
    """The bot is still loading, or failed to load; the message says which."""


RELOADED, UNCHANGED, REJECTED, FAILED = "reloaded", "unchanged", "rejected", "failed"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload did. `problems` are `file:line: message` (each followed by its plain-words
    hint, as `kb check` prints them); `version` is the knowledge serving afterwards."""

    outcome: str  # reloaded | unchanged | rejected (the knowledge is invalid) | failed (the build broke)
    trigger: str
    at: str
    version: str
    tried: str = ""  # the version of the files read
    problems: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    message: str = ""
    number: int = 0  # the how-manieth reload since the server started


    @property
    def ok(self) -> bool:
        return self.outcome in (RELOADED, UNCHANGED)

    def summary(self) -> dict:
        """For /readyz, which anyone may read: what happened and how many problems, not where."""
        return {"outcome": self.outcome, "trigger": self.trigger, "at": self.at, "number": self.number,
                "problems": len(self.problems)}

    def as_dict(self) -> dict:
        return {**self.summary(), "version": self.version, "tried": self.tried, "message": self.message,
                "problems": list(self.problems), "hints": list(self.hints)}


class BotRuntime:
    """Owns the PolicyBot once built and the pool its answers run on."""

    def __init__(self, settings: Settings, factory: BotFactory | None = None, workers: int | None = None):
        self.settings, self._factory = settings, factory or BotBuilder()
        self._pool = ThreadPoolExecutor(max_workers=workers or settings.answer_threads, thread_name_prefix="answer")
        # Builds (the first and each reload) run one at a time on their own thread, so encoding a
        # new policy's clauses never takes an answer thread.
        self._builds = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reload")
        self._reload_lock = asyncio.Lock()
        self._bot: PolicyBot | None = None
        self.failure: str = ""
        self.version: str = ""      # digest of the knowledge files the serving bot was built from
        self.loaded_at: str = ""
        self.stamps: kb_stamps.Stamps = ()  # file stamps when the last build (or attempt) read them
        self.last_reload: ReloadOutcome | None = None
        # Called with (old bot, new bot) after each reload that swapped (the server logs the
        # start-up warnings of schools that were not there before).
        self.on_swap: list[Callable[[PolicyBot, PolicyBot], None]] = []
        self._settled = asyncio.Event()  # set once the first bot is in, or the start has failed
        self._more: Iterator[PolicyBot] | None = None  # the later stages of a staged start
        self._loading_more = False  # a better stage is being built behind the one answering

    @property
    def stages(self) -> dict[str, str]:
        """For /readyz: which retrieval answers ("bm25" or "fused") and the semantic stage's
        state: "ready", "loading" (BM25 answers meanwhile), "off" (POLICYBOT_SEMANTIC=off) or
        "unavailable" (the model could not load or the stage failed; BM25 answers)."""
        mode = getattr(self.bot, "mode", BM25)
        if mode != BM25:
            semantic = "ready"
        elif not self.settings.semantic:
            semantic = "off"
        else:
            semantic = "loading" if self._loading_more else "unavailable"
        return {"retrieval": mode, "semantic": semantic}

    @property
    def bot(self) -> PolicyBot:
        if self._bot is None:
            raise NotReady(self.failure or "loading knowledge base")
        return self._bot

    @property
    def ready(self) -> bool:
        return self._bot is not None

    async def wait_loaded(self, timeout: float | None = 60.0) -> bool:
        """For channels answering stored questions at start: wait (without polling) until the
        bot has loaded or failed to; True when it is ready."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.ready

    async def settled(self) -> None:
        await self._settled.wait()

    async def load(self) -> None:
        """Build the bot on a worker thread; a failure is kept as the readiness reason, not raised,
        so /healthz and /readyz keep answering and say what went wrong (a later reload that
        succeeds makes the server ready without a restart)."""
        try:
            async with self._reload_lock:
                started = time.perf_counter()
                built = await self._build()
                if not isinstance(built, ReloadOutcome):
                    clauses = sum(len(s.clauses) for s in built.kb.schools.values())
                    log.info("ready: %d schools, %d clauses, answering with %s (%.1f s)", len(built.kb.schools),
                             clauses, getattr(built, "mode", BM25), time.perf_counter() - started)
                    self._settled.set()  # answering now; a reload waits for the later stages (the lock)
                    await self._later_stages(started)
                else:
                    self.failure = built.message
                    log.error("not ready: %s", self.failure)
                    for line in built.problems:
                        log.error("  %s", line)
        finally:
            self._more, self._loading_more = None, False
            self._settled.set()

    async def _later_stages(self, started: float) -> None:
        """A staged start's later bots (the fused one), each swapped in when built; the same
        knowledge, so the version stays. A stage that fails leaves the one before answering."""
        loop = asyncio.get_running_loop()
        while self._loading_more and self._more is not None:
            try:
                better = await loop.run_in_executor(self._builds, next, self._more, None)
            except Exception as exc:  # noqa: BLE001 - the earlier stage keeps answering
                log.exception("semantic stage failed (%s: %s); answering with BM25 only", type(exc).__name__, exc)
                return
            if better is None:
                return
            self._bot = better  # the swap, as a reload does it
            log.info("ready: now answering with %s (%.1f s)", better.mode, time.perf_counter() - started)
            self._loading_more = better.mode == BM25

    def _read_and_build(self):
        """On the build thread: the files' version, then the bot (or the exception). With no bot
        serving yet there is nothing to compare with, so the version is read after the swap
        (`_version_after`) and the first answer is not kept waiting for it."""
        version = kb_stamps.version(self.settings.knowledge_dir) if self._bot is not None else None
        if version is not None and version == self.version:
            return version, None
        try:
            made = self._factory(self.settings)
            if isinstance(made, collections.abc.Iterator):  # staged: the first bot now, the rest later
                stages, made = made, next(made)
                if self._bot is None:
                    self._more = stages
                    # before the first bot is visible, so /readyz never calls the stage unavailable
                    self._loading_more = self.settings.semantic and getattr(made, "mode", BM25) == BM25
                else:  # a reload is built whole before it is swapped in
                    for made in stages:
                        pass
            return version, made
        except Exception as exc:  # noqa: BLE001 - handed back to the loop, reported there
            return version, exc

    def _version_after(self, stamps: kb_stamps.Stamps) -> str:
        """The version of files read earlier, if they have not changed since ("" when they have:
        then the next reload rebuilds rather than trust a digest of newer files)."""
        version = kb_stamps.version(self.settings.knowledge_dir)
        return version if kb_stamps.stamps(self.settings.knowledge_dir) == stamps else ""

    async def _build(self, trigger: str = "start") -> PolicyBot | ReloadOutcome:
        """Build (off the loop) and swap in on success; the bot, or the outcome saying why not."""
        loop = asyncio.get_running_loop()
        # Stamps before anything is read, so a change made during the build is seen afterwards;
        # on the loop because it is a fraction of a millisecond (a stat per file, no reading).
        self.stamps = stamps = kb_stamps.stamps(self.settings.knowledge_dir)
        version, result = await loop.run_in_executor(self._builds, self._read_and_build)
        if result is None:
            return ReloadOutcome(UNCHANGED, trigger, _now(), self.version, version,
                                 message=f"no change: knowledge {self.version} is serving")
        if not isinstance(result, Exception):
            if version is None and trigger != "start":
                # A reload after a failed start: read the version before the swap, so /readyz never
                # shows the new bot without its version and this reload's outcome.
                version = await loop.run_in_executor(self._builds, self._version_after, stamps)
            self._bot = result  # the swap: one assignment; answers already running keep the old bot
            self.loaded_at, self.failure = _now(), ""
            self.version = version if version is not None else await loop.run_in_executor(
                self._builds, self._version_after, stamps)
            return result
        if version is None:
            version = await loop.run_in_executor(self._builds, self._version_after, stamps)
        if isinstance(result, KnowledgeError):
            problems = tuple(str(p) for p in result.problems)
            hints = tuple(explain(p.message) or "" for p in result.problems)
            message = (f"knowledge base has {len(problems)} problem(s); run `policybot kb check`"
                       if self._bot is None else
                       f"rejected: the knowledge files have {len(problems)} problem(s); still serving "
                       f"knowledge {self.version}")
            return ReloadOutcome(REJECTED, trigger, _now(), self.version, version, problems, hints, message)
        log.error("build failed", exc_info=result)
        message = f"could not build the bot: {type(result).__name__}: {result}"
        if self._bot is not None:
            message += f"; still serving knowledge {self.version}"
        return ReloadOutcome(FAILED, trigger, _now(), self.version, version, message=message)

    async def reload(self, trigger: str) -> ReloadOutcome:
        """Re-read the knowledge directory and swap in a new bot if it is valid; the old bot keeps
        serving otherwise. Reloads run one at a time; one asked for during another runs after it."""
        await self._settled.wait()
        async with self._reload_lock:
            started, before, old = time.perf_counter(), self.version, self._bot
            built = await self._build(trigger)
            if not isinstance(built, ReloadOutcome):
                clauses = sum(len(s.clauses) for s in built.kb.schools.values())
                encoded = getattr(getattr(built.retriever, "semantic", None), "encoded_at_start", 0)
                outcome = ReloadOutcome(RELOADED, trigger, _now(), self.version, self.version, message=(
                    f"reloaded: knowledge {before or 'none'} -> {self.version}, {len(built.kb.schools)} schools, "
                    f"{clauses} clauses, {encoded} clause texts encoded ({time.perf_counter() - started:.1f} s)"))
                log.info("reload (%s) %s", trigger, outcome.message)
                for hook in self.on_swap:
                    try:
                        hook(old, built)
                    except Exception:  # noqa: BLE001 - a log line's failure must not undo a reload
                        log.exception("after reload: %s failed", getattr(hook, "__name__", hook))
            else:
                outcome = built
                if outcome.outcome == UNCHANGED:
                    log.info("reload (%s): %s", trigger, outcome.message)
                else:
                    log.error("reload (%s) %s", trigger, outcome.message)
                    for line in outcome.problems:
                        log.error("reload (%s) rejected: %s", trigger, line)
            self.last_reload = outcome = dataclasses.replace(
                outcome, number=(self.last_reload.number if self.last_reload else 0) + 1)
            return outcome

    async def current_stamps(self) -> kb_stamps.Stamps:
        """The knowledge files' stamps now (cheap: a directory walk and a stat per file, off the
        loop); the watcher compares them with `stamps`, those the last build read."""
        return await asyncio.get_running_loop().run_in_executor(None, kb_stamps.stamps, self.settings.knowledge_dir)

    def knowledge_info(self) -> dict:
        """Which knowledge is serving and what the last reload did, for /readyz."""
        out: dict = {"knowledge": {"version": self.version, "loaded_at": self.loaded_at}}
        out["last_reload"] = self.last_reload.summary() if self.last_reload else None
        return out

    async def answer(self, school: str, question: str) -> Answer:
        """Raises NotReady, UnknownSchool or QuestionError, as the core does."""
        bot = self.bot
        return await asyncio.get_running_loop().run_in_executor(self._pool, bot.answer, school, question)

    def close(self) -> None:
        """Called after the HTTP server has drained its handlers, so nothing still awaits the pool;
        queued work that no handler waits for is dropped rather than run."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._builds.shutdown(wait=False, cancel_futures=True)
