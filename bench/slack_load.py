"""Slack under load: ack latency (p50 / p99) and answers per second, measured in one run.

    .venv/bin/python bench/slack_load.py [-n 200] [--probes 20] [--idle 20]

Starts a fake Slack Web API (its own process, loopback) and the real server (`policybot serve`,
its own process, Slack on over HTTP, a temporary inbox/escalation store), waits until it is ready,
then sends N correctly signed app_mention events all at once (two schools; one question in four
is escalated, as the bot can't answer it with confidence) and times each acknowledgement
(request sent -> response read). By default the requests go over keep-alive connections opened
beforehand, as a sender with a connection pool would; --cold opens a new connection for each
(TCP connect then included). References measured in the same run:
the same event ack one at a time (no load), and GET /healthz probes sent inside the burst (the
server's floor under the same load). Answered per second: N over the time from the first send
to the N-th chat.postMessage at the fake. Target: p99 ack < 50 ms at 200 concurrent events.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SECRET = "bench-signing-secret"
BOT_USER = "UBOT"
QUESTIONS = [("T1", "can I follow a parent back on insta?"),
             ("T2", "can I accept a friend request from a pupil?"),
             ("T1", "may I post photos of a school trip on my own facebook?"),
             ("T2", "a parent messaged me on whatsapp, can I reply?")]


# --- the fake Slack Web API (run as its own process: `slack_load.py --fake-slack`) ---

def run_fake_slack() -> int:
    from aiohttp import web

    counts: dict[str, int] = {}

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        counts[method] = counts.get(method, 0) + 1
        out: dict = {"ok": True}
        if method == "auth.test":
            out.update(user_id=BOT_USER, bot_id="BBOT", team_id="T1", team="Bench", url="https://x.slack.com/")
        elif method == "chat.postMessage":
            out.update(ts=f"{time.time():.6f}")
        elif method in ("conversations.replies", "conversations.history"):
            out.update(messages=[], has_more=False)
        return web.json_response(out)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", api)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await runner.cleanup()

    asyncio.run(main())
    return 0


# --- the load ---

def signed(body: bytes) -> dict:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}


def mention_body(i: int) -> bytes:
    team, question = QUESTIONS[i % len(QUESTIONS)]
    ts = f"1700000000.{i:06d}"
    # one asker per 20 events: the per-person rate limit (POLICYBOT_RATE_LIMIT) is not what this measures
    event = {"type": "app_mention", "user": f"U{i // 20}", "text": f"<@{BOT_USER}> {question}", "ts": ts,
             "channel": "C1", "team": team, "event_ts": ts}
    return json.dumps({"token": "x", "team_id": team, "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"EvBench{i}", "event_time": 1, "event": event,
                       "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}]}).encode()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def timed_post(session, url: str, body: bytes) -> float:
    headers = signed(body)
    t = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - t) * 1000


async def timed_get(session, url: str) -> float:
    t = time.perf_counter()
    async with session.get(url) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - t) * 1000


async def replies(session, fake: str) -> int:
    async with session.get(f"{fake}/stats") as resp:
        return (await resp.json()).get("chat.postMessage", 0)


async def wait_replies(session, fake: str, count: int, limit_s: float = 120.0) -> float:
    """Polls the fake until it has `count` replies; returns the perf_counter time it saw them."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        if await replies(session, fake) >= count:
            return time.perf_counter()
        await asyncio.sleep(0.005)
    raise SystemExit(f"only {await replies(session, fake)} of {count} replies after {limit_s:.0f} s")


async def start_server(env: dict) -> tuple[asyncio.subprocess.Process, str, asyncio.Task]:
    """`policybot serve` on a free port; returns the process, its base URL and the task draining its log."""
    proc = await asyncio.create_subprocess_exec(str(REPO / ".venv" / "bin" / "policybot"), "serve", env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []
    while True:
        line = (await proc.stderr.readline()).decode()
        if not line:
            raise SystemExit("policybot serve exited:\n" + "".join(lines))
        lines.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            break
    slack_line = ""
    while "slack:" not in slack_line:
        slack_line = (await proc.stderr.readline()).decode()
        lines.append(slack_line)
    if "slack: on" not in slack_line:
        raise SystemExit("Slack is not on in the server:\n" + "".join(lines))

    async def drain() -> None:  # the server logs a line per request; keep the pipe from filling
        while await proc.stderr.readline():
            pass

    return proc, found.group(1), asyncio.create_task(drain())


async def run(n: int, probes: int, idle: int, cold: bool) -> int:
    import aiohttp

    fake_proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--fake-slack",
                                                     stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    fake = f"http://127.0.0.1:{int((await fake_proc.stdout.readline()).decode())}"
    tmp = tempfile.TemporaryDirectory()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLICYBOT_"))}
    env.update(SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN="xoxb-bench", SLACK_API_URL=f"{fake}/api/",
               SLACK_TEAM_SCHOOLS="T1=tsat,T2=kingsmead", POLICYBOT_DB_PATH=str(Path(tmp.name) / "bench.sqlite3"),
               POLICYBOT_HOST="127.0.0.1", POLICYBOT_PORT="0", PYTHONUNBUFFERED="1")
    for key in ("POLICYBOT_SEMANTIC", "POLICYBOT_CACHE_DIR", "POLICYBOT_MODEL_VARIANT"):
        if key in os.environ:
            env[key] = os.environ[key]
    server, base, drain = await start_server(env)
    events = f"{base}/slack/events"
    try:
        connector = (aiohttp.TCPConnector(limit=0, force_close=True) if cold
                     else aiohttp.TCPConnector(limit=0, keepalive_timeout=120))
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(600):
                async with session.get(f"{base}/readyz") as resp:
                    # BM25 answers first; measure the bot as it finally serves (fused, when on)
                    if resp.status == 200 and (await resp.json()).get("semantic") != "loading":
                        break
                await asyncio.sleep(0.05)
            else:
                raise SystemExit("the server never became ready")
            sent = 0
            for _ in range(10):  # warm-up: Bolt's auth.test, the inbox file, the answer pool
                await timed_post(session, events, mention_body(sent))
                sent += 1
            await wait_replies(session, fake, sent)
            one_at_a_time = []
            for _ in range(idle):
                one_at_a_time.append(await timed_post(session, events, mention_body(sent)))
                sent += 1
                await wait_replies(session, fake, sent)  # each one answered before the next: no load

            if not cold:  # open n + probes keep-alive connections first, as a sender holding a pool would
                await asyncio.gather(*(timed_get(session, f"{base}/healthz") for _ in range(n + probes)))
            before = await replies(session, fake)
            bodies = [mention_body(sent + i) for i in range(n)]
            every = max(1, n // max(1, probes))
            jobs, kinds = [], []
            for i, body in enumerate(bodies):
                jobs.append(timed_post(session, events, body))
                kinds.append("ack")
                if probes and i % every == every // 2 and kinds.count("probe") < probes:
                    jobs.append(timed_get(session, f"{base}/healthz"))
                    kinds.append("probe")
            t0 = time.perf_counter()
            results = await asyncio.gather(*jobs)
            acked = time.perf_counter()
            done = await wait_replies(session, fake, before + n)
    finally:
        server.terminate()
        await server.wait()
        drain.cancel()
        fake_proc.stdin.close()
        await fake_proc.wait()
        tmp.cleanup()

    burst = [r for r, k in zip(results, kinds) if k == "ack"]
    health = [r for r, k in zip(results, kinds) if k == "probe"]
    how = "a new TCP connection each" if cold else "over already-open keep-alive connections"
    print(f"slack_load: {n} signed app_mention events at once into `policybot serve`, {how}; "
          f"fake Web API on loopback; {os.cpu_count()} cores\n")
    print(f"{'':34}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = [("event ack, one at a time (no load)", one_at_a_time), (f"event ack, {n} at once", burst),
            ("GET /healthz inside the burst", health)]
    for label, values in rows:
        if values:
            print(f"{label:34}{len(values):>5}{percentile(values, 50):>9.1f}{percentile(values, 99):>9.1f}"
                  f"{max(values):>9.1f}")
    print(f"\nall {n} acked after {(acked - t0) * 1000:.0f} ms; all answered after {done - t0:.2f} s: "
          f"{n / (done - t0):.1f} answered per second (first send to the last reply at the fake)")
    if health:
        print(f"burst ack / /healthz in the same burst: p50 {percentile(burst, 50) / percentile(health, 50):.2f}x, "
              f"p99 {percentile(burst, 99) / percentile(health, 99):.2f}x")
    p99 = percentile(burst, 99)
    print(f"target p99 ack < 50 ms at {n} concurrent: {'met' if p99 < 50 else 'NOT met'} ({p99:.1f} ms)")
    return 0


def main() -> int:
    if "--fake-slack" in sys.argv[1:]:
        return run_fake_slack()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="events sent at once (default 200)")
    parser.add_argument("--probes", type=int, default=20, help="/healthz probes inside the burst (default 20)")
    parser.add_argument("--idle", type=int, default=20, help="events acked one at a time first (default 20)")
    parser.add_argument("--cold", action="store_true",
                        help="a new TCP connection per request (then the server's listen backlog, 128 in "
                             "aiohttp's TCPSite, drops SYNs beyond it and those connects retry after ~1 s)")
    args = parser.parse_args()
    return asyncio.run(run(args.n, args.probes, args.idle, args.cold))


if __name__ == "__main__":
    sys.exit(main())
