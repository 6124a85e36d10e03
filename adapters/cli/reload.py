"""`policybot reload`: ask the running server to re-read its knowledge base, and say what happened.

It calls the server's POST /api/knowledge/reload (on loopback, or with POLICYBOT_WEB_TOKEN as
the bearer token), which answers only when the reload has finished, so a rejected change is
reported here with every problem as file:line. With --pid it sends SIGHUP to that process
instead (for a server whose web chat is off); then the outcome is in the server's log and in
/readyz's `last_reload`, which this command reads back when it can.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

from bot.config import Settings

RELOAD_PATH = "/api/knowledge/reload"


def base_url(settings: Settings) -> str:
    """Where `policybot serve` with these settings listens, as seen from this machine."""
    host = settings.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _request(url: str, token: str, method: str = "GET", timeout: float = 300.0) -> tuple[int, dict]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our own server's URL
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def _print_outcome(body: dict) -> int:
    outcome = body.get("outcome", "")
    print(f"policybot reload: {body.get('message') or outcome}")
    for problem, hint in zip(body.get("problems") or [], (body.get("hints") or []) + [""] * 1000):
        print(f"  {problem}", file=sys.stderr)
        if hint:
            print(f"    -> {hint}", file=sys.stderr)
    return 0 if outcome in ("reloaded", "unchanged") else 1


def _by_signal(pid: int, url: str, token: str) -> int:
    before = None
    try:
        _, ready = _request(f"{url}/readyz", "", timeout=5)
        before = (ready.get("last_reload") or {}).get("number", 0)
    except (OSError, ValueError):
        pass
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        print(f"policybot reload: cannot signal process {pid}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"policybot reload: sent SIGHUP to {pid}")
    if before is None:
        print("  the outcome is in the server's log (and /readyz last_reload)")
        return 0
    for _ in range(600):  # up to a minute for the build; bounded by polls
        time.sleep(0.1)
        try:
            _, ready = _request(f"{url}/readyz", "", timeout=5)
        except (OSError, ValueError):
            continue
        last = ready.get("last_reload") or {}
        if last.get("number", 0) > before:
            print(f"  {last.get('outcome')}: knowledge {ready.get('knowledge', {}).get('version')} is serving"
                  + (f"; {last.get('problems')} problem(s): see the server's log for file:line" if last.get("problems")
                     else ""))
            return 0 if last.get("outcome") in ("reloaded", "unchanged") else 1
    print("  no outcome yet: see the server's log", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = (args.url or base_url(settings)).rstrip("/")
    token = settings.web_token
    if args.pid:
        return _by_signal(args.pid, url, token)
    try:
        status, body = _request(url + RELOAD_PATH, token, "POST")
    except (OSError, ValueError) as exc:
        print(f"policybot reload: no policybot server answering at {url} ({getattr(exc, 'reason', exc)}); "
              "start it with `policybot serve`, give --url, or --pid PID to send it SIGHUP", file=sys.stderr)
        return 2
    if status == 401:
        print(f"policybot reload: {url} needs its access token: set POLICYBOT_WEB_TOKEN to the server's",
              file=sys.stderr)
        return 2
    if status == 404:
        print(f"policybot reload: {url} has no reload endpoint (its web chat is off); "
              "use --pid PID to send it SIGHUP, or let it notice the changed files", file=sys.stderr)
        return 2
    if "outcome" not in body:
        print(f"policybot reload: {url} answered HTTP {status}: {body.get('error', '')}", file=sys.stderr)
        return 2
    return _print_outcome(body)


def add_parser(sub) -> None:
    p = sub.add_parser("reload", help="make the running server re-read its knowledge base (no restart); "
                       "exit 0: reloaded or unchanged, 1: rejected (problems as file:line), 2: no server")
    p.add_argument("--url", help="the server's base URL (default: from POLICYBOT_HOST and PORT / POLICYBOT_PORT)")
    p.add_argument("--pid", type=int, help="send SIGHUP to this process instead of calling the server's endpoint")
    p.set_defaults(func=lambda args, settings: run(args, settings))
