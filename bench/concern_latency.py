"""What live-concern detection adds to a question, measured beside the lexicon alone in one run.

    .venv/bin/python bench/concern_latency.py [QUESTIONS.yaml ...] [--repeat N]

Questions: the labelled files' questions (default: the three sets in ../shared/eval), each
timed as PolicyBot.answer runs it, the two ways interleaved so both see the same machine load:
  lexicon alone   the pattern layer, then the question's embedding for the semantic
                  retrieval stage (the pipeline before the semantic layer)
  layered         both layers (one forward pass gives the question's vector and its
                  sentences'; a long question near a concern has its sentences encoded on
                  their own too), then the retrieval stage's embedding, which the encoder
                  now remembers
Added latency is layered minus lexicon alone, per question: what the semantic layer costs an
answer. Results go to bench/results/concern_latency.md.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "concern_latency.md"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = [str(REPO.parent / "shared" / "eval" / f) for f in ("dev.yaml", "train-a.yaml", "train-b.yaml")]
    parser.add_argument("questions", nargs="*", default=default)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from bot import config
    from bot.decide import safeguarding
    from bot.decide.concern import units_of
    from bot.knowledge.load import load_knowledge
    from bot.service import load_concerns

    settings = config.from_env()
    kb = load_knowledge(settings.knowledge_dir)
    detector = load_concerns(kb, settings)
    if not detector.semantic:
        print("the semantic layer is unavailable here; nothing to compare", file=sys.stderr)
        return 2
    questions = [str(q["question"]) for f in args.questions for q in yaml.safe_load(Path(f).read_text("utf-8"))]
    encoder = detector.encoder
    lexicon, layered, detector_only = [], [], []
    for _ in range(args.repeat):
        for q in questions:
            encoder.forget()
            t = time.perf_counter()
            safeguarding.match(q)
            encoder.encode_units([q])  # the semantic retrieval stage's embedding
            lexicon.append((time.perf_counter() - t) * 1000)
            encoder.forget()
            t = time.perf_counter()
            detector.detect(q)
            d = time.perf_counter()
            encoder.encode_units([q])  # remembered from the detector's pass
            layered.append((time.perf_counter() - t) * 1000)
            detector_only.append((d - t) * 1000)
    added = [la - lx for la, lx in zip(layered, lexicon)]
    long_added = [a for a, q in zip(added, questions * args.repeat) if len(units_of(q)) >= 4]
    rows = [("lexicon alone + question embedding", lexicon), ("layered + question embedding", layered),
            ("the detector itself (its encoding included)", detector_only),
            ("added by the semantic layer", added), ("added, questions of 3+ sentences", long_added)]
    lines = ["# Live-concern detection latency", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
             f"{len(questions)} questions x {args.repeat}, Python {platform.python_version()}, "
             f"model {encoder.version}", "",
             "| measure | n | p50 ms | p99 ms | mean ms |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, values in rows:
        if values:
            lines.append(f"| {name} | {len(values)} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} "
                         f"| {statistics.fmean(values):.2f} |")
    ratio = percentile(layered, 50) / max(percentile(lexicon, 50), 1e-9)
    lines += ["", f"layered / lexicon alone, p50: {ratio:.2f}x; added p50 {percentile(added, 50):.2f} ms "
                  f"(bar: <= 5 ms on 2 cores)"]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
