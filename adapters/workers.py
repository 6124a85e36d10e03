"""`policybot serve --workers N` (or WEB_CONCURRENCY=N): N answering processes behind one port.

Why processes: an answer's Python work holds the interpreter lock, so one process's answers share
one core's worth of Python, however many threads it has (the sentence model runs outside the lock,
measured at about 1.5 of 2 cores for one busy process). N processes, each a whole `policybot
serve` with the cores divided between them for the model (worker_env), answer on more cores.
They share nothing in memory and everything through the database: the channels' inbox (dedupe,
replay, feedback, Teams references) and the escalation outbox live in the escalation store, so
any process may take any request. With PostgreSQL they may run on several machines too; with
SQLite only on this one, against the same file.

How: this parent binds the port with SO_REUSEPORT (Linux) without listening on it (keeping the
port, and resolving port 0 to a real one), then starts N children, each `policybot serve` binding
the same port with SO_REUSEPORT, so the kernel spreads new connections across them. The parent
answers nothing itself. It forwards SIGTERM / SIGINT (each child drains its answers in flight
within POLICYBOT_SHUTDOWN_GRACE, then exits; one still running after that and a margin is
killed) and SIGHUP (each child re-reads the knowledge base). A child that dies unexpectedly (a
crash, the OOM killer, SIGKILL) is started again; what it held is taken over by the others
once its claims' leases run out (bot/escalations/inbox.py). A child that keeps dying within
seconds of its start (a configuration it cannot start with) stops the whole server.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from bot.config import Settings

log = logging.getLogger("policybot.workers")

QUICK_EXIT_SECONDS = 10.0   # a child gone this soon after its start did not really start
MAX_QUICK_EXITS = 5         # in a row: then the server stops, with exit code 1
KILL_MARGIN_SECONDS = 5.0   # past the shutdown grace, a child still running is killed
POLL_SECONDS = 0.1


def can_share_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with SO_REUSEPORT and not listening: the port stays ours
    between child restarts, and port 0 becomes a real port the children can all bind. (Only
    listening sockets receive connections, so this one never takes any.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


def worker_env(environ, port: int, host: str, workers: int, cores: int | None = None) -> dict:
    """A child's environment: the shared port and host, and, unless POLICYBOT_MODEL_THREADS is
    set, the machine's cores divided between the workers for the sentence model. Each child would
    otherwise run the model on every core, N processes' threads contending for the same cores:
    measured here with 2 workers on 2 cores (wrk, 50 connections), one model thread each answered
    144-156 questions a second against 130 with every core each, p99 0.93-0.96 s against 1.1-1.6 s."""
    env = dict(environ)
    env.update(PORT=str(port), POLICYBOT_HOST=host)
    if "POLICYBOT_MODEL_THREADS" not in env:
        env["POLICYBOT_MODEL_THREADS"] = str(max(1, (cores or os.cpu_count() or 1) // max(1, workers)))
    return env


def child_command(index: int) -> list[str]:
    """One answering process: `policybot serve` itself, told it is worker `index` of a group."""
    return [sys.executable, "-m", "adapters.cli", "serve", "--workers", "1", "--worker-index", str(index),
            "--reuse-port"]


@dataclass
class Child:
    index: int
    proc: subprocess.Popen
    started: float
    quick_exits: int = 0


@dataclass
class Supervisor:
    settings: Settings
    n: int
    command: Callable[[int], list[str]] = child_command
    clock: Callable[[], float] = time.monotonic
    children: dict[int, Child] = field(default_factory=dict)
    stopping: bool = False
    _hup: bool = False

    def _env(self, port: int) -> dict:
        return worker_env(os.environ, port, self.settings.host, self.n)

    def _start(self, index: int, port: int, quick_exits: int = 0) -> None:
        proc = subprocess.Popen(self.command(index), env=self._env(port))
        self.children[index] = Child(index, proc, self.clock(), quick_exits)
        log.info("worker %d started: pid %d", index, proc.pid)

    def _on_stop(self, signum, frame) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("stopping %d worker(s) (%s)", len(self.children), signal.Signals(signum).name)
            self._signal_all(signal.SIGTERM)

    def _on_hup(self, signum, frame) -> None:
        self._hup = True

    def _signal_all(self, sig: int) -> None:
        for child in self.children.values():
            if child.proc.poll() is None:
                try:
                    child.proc.send_signal(sig)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        """Starts the workers and looks after them until SIGTERM / SIGINT; the exit code."""
        host, port = self.settings.host, self.settings.port
        try:
            reserved = reserve_port(host, port)
        except OSError as exc:
            log.error("policybot serve: cannot listen on %s:%s: %s (set POLICYBOT_HOST / PORT)", host, port, exc)
            return 2
        port = reserved.getsockname()[1]
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        log.info("policybot serve: %d workers on port %d (parent pid %d)", self.n, port, os.getpid())
        try:
            for index in range(1, self.n + 1):
                self._start(index, port)
            return self._watch(port)
        finally:
            reserved.close()

    def _watch(self, port: int) -> int:
        deadline: float | None = None
        failed = False
        while True:
            if self._hup:
                self._hup = False
                log.info("SIGHUP: each worker re-reads the knowledge base")
                self._signal_all(signal.SIGHUP)
            if self.stopping and deadline is None:
                deadline = self.clock() + self.settings.shutdown_grace_seconds + KILL_MARGIN_SECONDS
            for index, child in list(self.children.items()):
                code = child.proc.poll()
                if code is None:
                    continue
                if self.stopping:
                    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                        failed = True
                    del self.children[index]
                    continue
                quick = self.clock() - child.started < QUICK_EXIT_SECONDS
                exits = child.quick_exits + 1 if quick else 0
                log.error("worker %d (pid %d) exited with %s; %s", index, child.proc.pid, _how(code),
                          "stopping: it keeps failing at start" if exits >= MAX_QUICK_EXITS else "starting it again")
                if exits >= MAX_QUICK_EXITS:
                    del self.children[index]
                    self._on_stop(signal.SIGTERM, None)
                    failed = True
                    continue
                if quick:
                    time.sleep(min(2 ** exits * 0.25, 5.0))  # a child failing at start is not restarted in a hot loop
                self._start(index, port, exits)
            if self.stopping and not self.children:
                log.info("stopped")
                return 1 if failed else 0
            if deadline is not None and self.clock() > deadline:
                for child in self.children.values():
                    log.error("worker %d (pid %d) did not stop within the grace; killed", child.index, child.proc.pid)
                    child.proc.kill()
                deadline = float("inf")
            time.sleep(POLL_SECONDS)


def _how(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def supervise(settings: Settings, n: int) -> int:
    """Blocking entry point for `policybot serve --workers N` (N > 1)."""
    from .server import configure_logging

    configure_logging()
    if not can_share_port():
        log.error("policybot serve --workers %d needs SO_REUSEPORT (Linux); run one process per port behind "
                  "a load balancer instead", n)
        return 2
    return Supervisor(settings, n).run()
