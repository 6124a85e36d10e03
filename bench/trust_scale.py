"""One deployment for a whole trust: 5 / 50 / 500 schools, measured in one run.

    .venv/bin/python bench/trust_scale.py [--schools 5,50,500] [--cold 5,50] [--repeat 3]

Knowledge bases are generated in a temporary directory by cloning the bundled five schools
with new slugs (`tsat-007`, ...) and slightly altered clause text: two filler words ("also",
"indeed", ...) inserted at seeded places in every clause of every clone, so nearly every
passage is a new text to encode, as real schools' policies would be (the `about` phrasings are
shared); the altered texts are appended to the clone's copy of the source policy, so the
verbatim check still runs. Size 5 is the bundled five themselves.

Each figure comes from a fresh process (`python -c`), so imports and file reads count:
  kb check     `policybot kb check --dir KB`, wall time: first with an empty cache (every file
               parsed), then after one policy file is edited (the rest read from the
               parsed-file cache, as when a trust's IT re-checks after a change)
  BM25 ready   interpreter start -> the first stage of bot.service.build_stages (what the
               server answers with first; the live-concern detector included)
  warm start   interpreter start -> the fused bot built, clause vectors and parsed files in
               the cache (a restart)
  cold start   the same with nothing cached (every file parsed, clause texts and the concern
               bank encoded; the ONNX export is kept, it does not depend on the schools)
  RSS          the warm process's peak resident memory (VmHWM), semantic on, after the questions
  per question p50 / p99 through PolicyBot.answer (fused), the bench's own staff-style questions
               asked of schools chosen at random, each question x --repeat, the encoder's memo
               of recent texts cleared before each (a repeated question is not a cheap one)
Ratios are against the 5-school figures of the same run. Results go to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from results_file import machine_line, write_section  # noqa: E402

BUNDLED = REPO / "knowledge"
FILLERS = ("also", "indeed", "always", "therefore")
# The bench's own questions (staff-style, written for it; not taken from any labelled set).
QUESTIONS = [
    "can I follow a parent back on instagram?",
    "is it ok to post photos of the sports day on my own facebook?",
    "a former pupil who left five years ago wants to be friends on facebook",
    "can I use my personal phone to take pictures of the class trip?",
    "may I message pupils on whatsapp about homework?",
    "what should I do if a parent complains about me online?",
    "can I mention the school in my twitter bio?",
    "is it fine to use tiktok during lunch break in the staffroom?",
    "a pupil sent me a friend request, what now?",
    "can I set up a class blog for parents to see our work?",
    "should my profile be private?",
    "can I share news of the school fair on my personal account?",
    "who do I tell if I see a colleague posting about a pupil?",
    "can I play music from spotify in class?",
    "am I allowed to contact parents on my own mobile?",
    "can I be in a group chat with parents from my son's football team who are also school parents?",
    "what happens if I break the social media policy?",
    "is linkedin allowed for professional networking?",
    "can I use school email for personal subscriptions?",
    "a parent tagged me in a photo at a party, is that a problem?",
    "can I comment on the school's official facebook page?",
    "is it ok to livestream an assembly?",
    "can governors post about school decisions on social media?",
    "what time does the canteen open on fridays?",
]


# --- generating the knowledge base ---

def _alter(text: str, rng: random.Random) -> str:
    """Two filler words at seeded places: the same clause, a new text to encode."""
    words = text.split(" ")
    for _ in range(2):
        at = rng.randint(1, max(1, len(words) - 1))
        words.insert(at, rng.choice(FILLERS))
    return " ".join(words)


def generate(root: Path, schools: int) -> Path:
    """A knowledge directory of `schools` schools under root (the bundled five, then clones)."""
    import yaml

    kb = root / f"kb-{schools}"
    if kb.exists():
        return kb
    shutil.copytree(BUNDLED, kb, ignore=shutil.ignore_patterns("drafts"))
    slugs = sorted(p.stem for p in (BUNDLED / "schools").glob("*.yaml"))
    clone = 0
    while len(slugs) + clone < schools:
        base = slugs[clone % len(slugs)]
        n = clone // len(slugs) + 1
        slug = f"{base}-{n:03d}"
        rng = random.Random(f"{slug}")
        school = yaml.safe_load((BUNDLED / "schools" / f"{base}.yaml").read_text(encoding="utf-8"))
        school["slug"], school["name"] = slug, f"{school['name']} ({n:03d})"
        (kb / "schools" / f"{slug}.yaml").write_text(yaml.safe_dump(school, sort_keys=False), encoding="utf-8")
        (kb / "policies" / slug).mkdir(parents=True)
        for policy_file in sorted((BUNDLED / "policies" / base).glob("*.yaml")):
            policy = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
            policy["school"] = slug
            altered = []
            for clause in policy.get("clauses") or []:
                clause["text"] = _alter(" ".join(str(clause["text"]).split()), rng)
                altered.append(clause["text"])
            if policy.get("source"):
                source = (BUNDLED / policy["source"]).read_text(encoding="utf-8")
                new_source = f"sources/{slug}-{policy_file.stem}.txt"
                (kb / new_source).write_text(source + "\n\n" + "\n\n".join(altered) + "\n", encoding="utf-8")
                policy["source"] = new_source
            (kb / "policies" / slug / policy_file.name).write_text(
                yaml.safe_dump(policy, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
        clone += 1
    return kb


# --- one fresh process per measurement ---

_CHILD = """
import json, random, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {repo!r})
from bot import config
from bot.service import build_stages
settings = config.from_env()
stages = build_stages(settings)
first = next(stages)
bm25_ready = time.perf_counter() - t0
bot = next(stages, first)
built = time.perf_counter() - t0
out = {{"bm25_ready": bm25_ready, "built": built, "mode": bot.mode, "schools": len(bot.kb.schools),
        "clauses": sum(len(s.clauses) for s in bot.kb.schools.values()),
        "encoded": getattr(getattr(bot.retriever, "semantic", None), "encoded_at_start", None)}}
questions = {questions!r}
if {repeat} > 0:
    rng = random.Random(18)
    slugs = sorted(bot.kb.schools)
    for q in questions[:3]:
        bot.answer(slugs[0], q)  # warm-up
    encoder = getattr(bot.concerns, "encoder", None)
    times = []
    for _ in range({repeat}):
        for q in questions:
            slug = rng.choice(slugs)
            if encoder is not None:
                encoder.forget()  # every question new to the encoder, as a staff member's is
            t = time.perf_counter()
            bot.answer(slug, q)
            times.append((time.perf_counter() - t) * 1000)
    out["answer_ms"] = times
status = open("/proc/self/status").read()
for key in ("VmHWM", "VmRSS"):
    out[key] = int(next(l for l in status.splitlines() if l.startswith(key + ":")).split()[1]) / 1024
print("RESULT " + json.dumps(out))
"""


def child(kb: Path, cache: Path, repeat: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env.update(POLICYBOT_KNOWLEDGE_DIR=str(kb), POLICYBOT_CACHE_DIR=str(cache), POLICYBOT_SEMANTIC="on",
               POLICYBOT_TODAY="2026-11-25")
    code = _CHILD.format(repo=str(REPO), questions=QUESTIONS, repeat=repeat)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"the measured process failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def kb_check(kb: Path, cache: Path) -> tuple[float, float]:
    """(first check, check after one edited policy file), with a cache directory of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env["POLICYBOT_CACHE_DIR"] = str(cache)
    if cache.exists():
        shutil.rmtree(cache)

    def run() -> float:
        t = time.perf_counter()
        proc = subprocess.run([str(REPO / ".venv" / "bin" / "policybot"), "kb", "check", "--dir", str(kb)], env=env,
                              capture_output=True, text=True, check=False)
        took = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"kb check failed on the generated knowledge base:\n{proc.stderr[-3000:]}")
        return took

    first = run()
    edited = sorted((kb / "policies").glob("*/*.yaml"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited for the re-check\n", encoding="utf-8")
    return first, run()


def model_only_cache(source_cache: Path, target: Path) -> Path:
    """A cache with the ONNX export but no vectors: a cold start that still has the model."""
    if target.exists():
        shutil.rmtree(target)
    (target / "models").mkdir(parents=True)
    for f in (source_cache / "models").glob("*.onnx"):
        shutil.copy2(f, target / "models" / f.name)
    return target


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", default="5,50,500", help="comma-separated school counts (warm start, RSS, "
                                                               "per question, kb check)")
    parser.add_argument("--cold", default="5,50", help="school counts to also measure a cold start for "
                                                         "(encoding everything: minutes at 500)")
    parser.add_argument("--repeat", type=int, default=3, help="times each question is asked")
    parser.add_argument("--keep", help="generate the knowledge bases here and keep them (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    sizes = [int(s) for s in args.schools.split(",")]
    cold = {int(s) for s in args.cold.split(",") if s}
    from bot.retrieval.embedding import default_cache_dir, load_encoder

    load_encoder(default_cache_dir())  # the ONNX export exists before anything is timed
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="trust-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for n in sizes:
            kb = generate(tmp, n)
            row = {"schools": n}
            print(f"{n} schools: kb check ...", flush=True)
            row["kb_check"], row["kb_recheck"] = kb_check(kb, tmp / f"check-cache-{n}")
            cache = tmp / f"cache-{n}"
            if n in cold:
                print(f"{n} schools: cold start ...", flush=True)
                c = child(kb, model_only_cache(default_cache_dir(), cache), repeat=0)
                row.update(cold=c["built"], cold_bm25=c["bm25_ready"], encoded=c["encoded"])
            else:  # fill the cache (not timed) for the warm start
                print(f"{n} schools: filling the vector cache (not timed) ...", flush=True)
                child(kb, model_only_cache(default_cache_dir(), cache) if not cache.exists() else cache, repeat=0)
            print(f"{n} schools: warm start and questions ...", flush=True)
            w = child(kb, cache, repeat=args.repeat)
            row.update(warm=w["built"], warm_bm25=w["bm25_ready"], mode=w["mode"], clauses=w["clauses"],
                       rss=w["VmHWM"], p50=percentile(w["answer_ms"], 50), p99=percentile(w["answer_ms"], 99),
                       asked=len(w["answer_ms"]))
            row["load"] = os.getloadavg()[0]
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    text = report(rows, args.repeat)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section('bench/trust_scale.py', text)}")
    return 0


def report(rows: list[dict], repeat: int) -> str:
    base = rows[0]
    lines = ["## Trust scale: 5 / 50 / 500 schools in one process (`bench/trust_scale.py`)", "",
             machine_line() + ".", "",
             f"Fresh process per figure; semantic on (fused); {len(QUESTIONS)} questions x {repeat} per size, "
             "schools drawn at random; cold start = no vectors cached (ONNX export kept). The machine is shared: "
             "the last column is the 1-minute load average after each size (2 means both cores busy).", "",
             "| schools | clauses | kb check s (first / after an edit) | BM25 ready s (warm / cold) | warm start s | cold start s "
             "(texts encoded) | peak RSS MB | per question p50 / p99 ms | p50 vs first row | load avg |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cold = f"{r['cold']:.1f} ({r['encoded']:,})" if "cold" in r else "not run"
        cold_bm25 = f"{r['cold_bm25']:.1f}" if "cold_bm25" in r else "-"
        lines.append(f"| {r['schools']:,} | {r['clauses']:,} | {r['kb_check']:.1f} / {r['kb_recheck']:.1f} | "
                     f"{r['warm_bm25']:.1f} / "
                     f"{cold_bm25} | {r['warm']:.1f} | {cold} | {r['rss']:.0f} | {r['p50']:.1f} / {r['p99']:.1f} "
                     f"| {r['p50'] / base['p50']:.2f}x | {r['load']:.1f} |")
    last = rows[-1]
    lines += ["", f"Targets at 500 schools (issue 18): per-question p50 within 1.3x of 5 schools, warm start <= 5 s, "
                  "kb check <= 5 s, RSS <= 600 MB, cold start <= 3 min with BM25 ready within 10 s. "
                  f"Largest size run here: {last['schools']} schools, p50 {last['p50'] / base['p50']:.2f}x the "
                  f"{base['schools']}-school figure."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
