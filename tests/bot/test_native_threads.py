"""numpy's BLAS runs on one thread once a bot is built (its idle threads spin and take the cores
the encoder and other worker processes need; see bot/native_threads.py), unless configured."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

_PROBE = """
import os, sys
from threadpoolctl import threadpool_info
from bot.config import from_env
from bot.service import build_bot
blas = lambda: sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
before = blas()
build_bot(from_env())
print(before, blas())
"""


def _probe(env_value: str | None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(POLICYBOT_SEMANTIC="off")
    if env_value is not None:
        env["POLICYBOT_BLAS_THREADS"] = env_value
    # A fresh interpreter: the limit is process-wide, and this test must see the library's default first.
    return subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True).stdout.strip()


def test_building_the_bot_limits_blas_to_one_thread():
    import os

    before, after = _probe(None).split("] [")
    assert after.rstrip("]") == "1"
    if (os.cpu_count() or 1) > 1:
        assert before.lstrip("[") != "1"  # the default really was more, so the limit did something


def test_zero_keeps_the_library_default():
    before, after = _probe("0").split("] [")
    assert before.lstrip("[") == after.rstrip("]")
