"""/api/ask under load: 1 / 10 / 50 concurrent clients against `policybot serve` with 1 and 2
worker processes, measured in one run; the section in bench/RESULTS.md is written by this script.

    .venv/bin/python bench/server_load.py [--requests N] [--questions FILE]

Why through the real server: the question is whether a second process buys throughput on this
machine's cores (one process answers on threads that share one interpreter), and what an asker
waits at the 99th percentile when 50 staff ask at once. Each request is a distinct question (a
numbered suffix), so no answer is served from the encoder's memory of a previous one; each client
is its own person for the rate limit, which is raised out of the way (it is not what this measures).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results_file import machine_line, percentile, write_section  # noqa: E402

CLIENTS = (1, 10, 50)
WORKERS = (1, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start(workers: int, home: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "POLICYBOT_HOST": "127.0.0.1", "POLICYBOT_RATE_LIMIT": "1000000",
           "POLICYBOT_RELOAD_POLL_SECONDS": "0", "DATABASE_URL": f"sqlite:///{home}/esc-{workers}.sqlite3"}
    proc = await asyncio.create_subprocess_exec(str(REPO / ".venv" / "bin" / "policybot"), "serve",
                                                "--workers", str(workers), env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


async def wait_fused(base: str, limit_s: float = 300.0) -> None:
    """Until many /readyz in a row say the fused bot is answering. Each probe opens a new
    connection, because the kernel spreads connections (not requests) over the workers: probes
    on one kept-alive connection would all reach one worker while another is still starting."""
    import aiohttp

    deadline, streak = time.monotonic() + limit_s, 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base}/readyz") as resp:
                    body = await resp.json(content_type=None)
                    streak = streak + 1 if resp.status == 200 and body.get("retrieval") == "fused" else 0
            except Exception:  # noqa: BLE001 - not listening yet
                streak = 0
            if streak >= 20:
                return
            await asyncio.sleep(0.05 if streak else 0.5)
    raise SystemExit(f"{base} never became ready with the fused bot")


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of process `root` and every process below it (the workers), so
    a row can say how many of the machine's cores the server kept busy."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(stats[pid][1] for pid in tree if pid in stats)


async def load(session, base: str, clients: int, requests: int, questions: list[dict], tag: str,
               server_pid: int | None = None) -> dict:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client(c: int) -> None:
        headers = {"X-Policybot-Client": f"bench-{tag}-{c}"}
        for i in counter:
            q = questions[i % len(questions)]
            body = {"school": q["school"], "question": f"{q['question']} ({tag} {i})"}
            t = time.perf_counter()
            async with session.post(f"{base}/api/ask", json=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"/api/ask answered {resp.status}")
            latencies.append((time.perf_counter() - t) * 1000)

    cpu = cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    elapsed = time.perf_counter() - started
    cores = (cpu_seconds(server_pid) - cpu) / elapsed if server_pid else 0.0
    return {"rate": len(latencies) / elapsed, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "cores": cores}


async def run(requests: int, questions: list[dict]) -> dict:
    import aiohttp

    results = {}
    with tempfile.TemporaryDirectory() as home:
        for workers in WORKERS:
            proc, base = await start(workers, Path(home))
            try:
                await wait_fused(base)
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
                    await load(session, base, 4, 40, questions, f"warm{workers}")
                    for clients in CLIENTS:
                        results[(workers, clients)] = await load(session, base, clients, requests, questions,
                                                                 f"w{workers}c{clients}", proc.pid)
                        print(workers, clients, results[(workers, clients)], flush=True)
            finally:
                proc.terminate()
                await proc.wait()
    return results


def report(results: dict, requests: int) -> str:
    lines = ["## /api/ask under load, 1 and 2 worker processes (`bench/server_load.py`)", "", machine_line(), "",
             f"{requests} distinct questions per row (the dev questions, numbered), bundled five schools, "
             "fused, SQLite store.", "",
             "| processes | clients | answers/s | p50 ms | p99 ms | answers/s vs 1 process | server CPU, cores busy |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (workers, clients), r in sorted(results.items()):
        ratio = r["rate"] / results[(1, clients)]["rate"]
        lines.append(f"| {workers} | {clients} | {r['rate']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {ratio:.2f}x "
                     f"| {r['cores']:.2f} of {os.cpu_count()} |")
    top = max(CLIENTS)
    ratio = results[(2, top)]["rate"] / results[(1, top)]["rate"]
    one = results[(1, top)]["cores"]
    lines += ["", f"At {top} clients: 2 processes give {ratio:.2f}x the throughput of 1 (target >= 1.7x on 2 "
              f"cores); p99 {results[(2, top)]['p99']:.0f} ms with 2 processes, {results[(1, top)]['p99']:.0f} ms "
              f"with 1 (target <= 1000 ms at 5 schools). One process already keeps {one:.2f} of the "
              f"{os.cpu_count()} cores busy (the encoder runs on every core), so a second process can add at most "
              f"{os.cpu_count() / max(one, 1e-9):.2f}x here; the load generator shares the same cores."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--questions", default=str(REPO.parent / "shared" / "eval" / "dev.yaml"))
    args = parser.parse_args()
    questions = [q for q in yaml.safe_load(Path(args.questions).read_text(encoding="utf-8"))]
    results = asyncio.run(run(args.requests, questions))
    body = report(results, args.requests)
    print(body)
    print(f"wrote {write_section('bench/server_load.py', body)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
