"""The answer pool: at most POLICYBOT_ANSWER_THREADS questions are answered at once per process,
and the rest wait their turn in arrival order (so a burst does not finish late all together)."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from adapters.runtime import BotRuntime
from bot.config import Settings, from_env


class SlowBot:
    def __init__(self):
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.started: list[str] = []

    def answer(self, school: str, question: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(question)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return question


@pytest.mark.parametrize("threads", [1, 3])
def test_at_most_answer_threads_questions_run_at_once_in_arrival_order(threads):
    runtime = BotRuntime(Settings(answer_threads=threads))
    runtime._bot = bot = SlowBot()  # the pool is what is tested, not a real bot

    async def burst():
        return await asyncio.gather(*(runtime.answer("alpha", f"q{i}") for i in range(8)))

    try:
        assert asyncio.run(burst()) == [f"q{i}" for i in range(8)]
    finally:
        runtime.close()
    assert bot.most == threads
    if threads == 1:
        assert bot.started == [f"q{i}" for i in range(8)]


def test_answer_threads_setting():
    assert from_env({}).answer_threads == 1
    assert from_env({"POLICYBOT_ANSWER_THREADS": "6"}).answer_threads == 6
