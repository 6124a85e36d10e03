"""bench/RESULTS.md: each benchmark script rewrites its own section there, nothing typed by hand.

Why one file with sections: a reader finds every figure in one place, and rerunning one
benchmark leaves the others' latest figures alone. A section starts with a machine line (CPU,
cores, memory, Python, date), so figures are never read without the machine they came from.
"""
from __future__ import annotations

import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = ("# Benchmark results\n\nWritten by the scripts in `bench/` (each rewrites its own section); "
         "ratios are against a reference measured in the same run. Nothing here is typed by hand.\n")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return "RAM unknown"


def machine_line() -> str:
    """One line naming the machine and the moment: what every figure below it depends on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f"; load average {os.getloadavg()[0]:.1f} when written" if hasattr(os, "getloadavg") else ""
    return (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {_cpu()} ({platform.machine()}), {cores} cores, "
            f"{_memory_gb()}; {platform.system()} {platform.release()}; Python {platform.python_version()}{load}")


def write_section(name: str, body: str, path: Path = RESULTS) -> Path:
    """Replaces section `name` (e.g. "bench/retrieval.py") in RESULTS.md with `body`, keeping the others."""
    start, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.write_text(text, encoding="utf-8")
    return path


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
