"""What each `policybot serve` process holds in memory, per school, with --workers.

    .venv/bin/python bench/serve_memory.py [--workers 2] [--semantic on|off]

Starts `policybot serve --workers N` (its own processes, loopback, a temporary SQLite store)
on knowledge directories of 1 and of 5 schools (the bundled five; the one-school directory keeps
only the first), waits until every worker has said `ready:`, then reads each process's resident
memory (VmRSS in /proc) and prints a table: the parent, each worker, and the per-school
difference per worker ((RSS at 5 schools - RSS at 1) / 4). Linux only (SO_REUSEPORT, /proc).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def knowledge(dst: Path, schools: int) -> Path:
    shutil.copytree(REPO / "knowledge", dst)
    slugs = sorted(p.stem for p in (dst / "schools").glob("*.yaml"))
    for slug in slugs[schools:]:
        (dst / "schools" / f"{slug}.yaml").unlink()
        shutil.rmtree(dst / "policies" / slug, ignore_errors=True)
        for extra in (dst / "notes" / f"{slug}.yaml", dst / "phrasings" / f"{slug}.yaml"):
            extra.unlink(missing_ok=True)
    return dst


def measure(kdir: Path, workers: int, semantic: str, tmp: Path) -> dict:
    log = tmp / f"serve-{kdir.name}.log"
    env = dict(os.environ, PORT=str(free_port()), POLICYBOT_HOST="127.0.0.1", POLICYBOT_KNOWLEDGE_DIR=str(kdir),
               POLICYBOT_DB_PATH=str(tmp / f"{kdir.name}.sqlite3"), POLICYBOT_SEMANTIC=semantic,
               POLICYBOT_RELOAD_POLL_SECONDS="0", DATABASE_URL="")
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", "--workers", str(workers)],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(1200):
            text = log.read_text()
            if len(re.findall(r"^worker \d+: ready: ", text, re.M)) >= workers:
                break
            if proc.poll() is not None:
                raise SystemExit(f"serve exited:\n{text[-3000:]}")
            time.sleep(0.1)
        else:
            raise SystemExit("workers never ready")
        time.sleep(1.0)  # let start-up garbage settle
        pids = [int(p) for p in re.findall(r"^worker \d+ started: pid (\d+)$", log.read_text(), re.M)]
        ready = re.search(r"ready: (\d+) schools, (\d+) clauses", log.read_text())
        return {"schools": int(ready.group(1)), "clauses": int(ready.group(2)), "parent": rss_mb(proc.pid),
                "workers": [rss_mb(p) for p in pids]}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--semantic", choices=("on", "off"), default="on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = [measure(knowledge(tmp / f"k{n}", n), args.workers, args.semantic, tmp) for n in (1, 5)]
    print(f"policybot serve --workers {args.workers}, semantic {args.semantic}, "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    print("| schools | clauses | parent RSS | each worker's RSS |")
    print("| ---: | ---: | ---: | --- |")
    for r in runs:
        print(f"| {r['schools']} | {r['clauses']} | {r['parent']:.0f} MB | "
              + ", ".join(f"{w:.0f} MB" for w in r["workers"]) + " |")
    one, five = runs
    per = [(b - a) / (five["schools"] - one["schools"]) for a, b in zip(one["workers"], five["workers"])]
    print(f"per school, per worker: {', '.join(f'{p:.1f} MB' for p in per)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
