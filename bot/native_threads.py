"""How many threads numpy's BLAS may use: one by default.

The answer path's matrix work is small (a question's vector against a school's few hundred clause
vectors), so BLAS threads buy nothing there; but OpenBLAS keeps idle threads spinning for a while
after each call, and on a 2-core machine they take the cores the sentence encoder and the other
answers need. Measured through `policybot serve` here (bench/server_load.py): with every core
allowed, a second worker process halved single-client throughput (each process's spinning threads
stole the other's cores) and 2 workers at 50 clients gave 0.96x one worker; with one BLAS thread,
one worker answers faster and two give more (see README "Scaling").
threadpoolctl sets the limit in the loaded library, whatever imported numpy first.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_applied: int | None = None


def limit_blas_threads(threads: int) -> None:
    """At most `threads` BLAS threads for the rest of the process (0: the library's default)."""
    global _applied
    if threads <= 0 or _applied == threads:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency; a missing one costs speed only
        log.warning("threadpoolctl is not installed; numpy's BLAS keeps its default thread count")
        return
    threadpool_limits(limits=threads, user_api="blas")
    _applied = threads
