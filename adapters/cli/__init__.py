"""The `policybot` command (ask, batch, eval, chat, kb check, ingest, serve, worker, escalations, feedback...):
the composition root. It may import everything in bot/ and adapters/; nothing imports it."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot import config
from bot.decide.answer import QuestionError
from bot.render import answer_json
from bot.knowledge.load import KnowledgeError, UnknownSchool, load_knowledge

# `policybot --help` shows this, as it showed the module's docstring when the command lived in bot/cli.py.
DESCRIPTION = "The `policybot` command: ask, batch, eval, chat, kb check, kb diff, ingest, serve, reload."


def _cmd_kb_check(args: argparse.Namespace, settings: config.Settings) -> int:
    root = Path(args.dir) if args.dir else settings.knowledge_dir
    try:
        kb = load_knowledge(root, settings.cache_dir)
    except KnowledgeError as exc:
        from bot.knowledge.school_file import explain

        for problem in exc.problems:
            print(problem, file=sys.stderr)
            if hint := explain(problem.message):
                print(f"    -> {hint}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    from bot.knowledge.source_coverage import coverage

    clauses = sum(len(s.clauses) for s in kb.schools.values())
    print(f"ok: {len(kb.schools)} schools, {clauses} clauses, {len(kb.synonyms)} synonym groups in {root}")
    bank = kb.concerns
    print(f"  live-concern bank: {len(bank.concerns)} concern exemplars in {len(bank.categories)} categories, "
          f"{len(bank.negatives)} hard negatives")
    from bot.escalations.reach import unreachable_warnings

    channels = settings.notice_channels()
    print(f"  escalation channels configured here: {', '.join(channels) or 'none (only the log)'}")
    for line in unreachable_warnings(kb, channels):
        print(f"  warning: {line}")
    low = 0
    for school in kb.schools.values():
        for policy in school.policies:
            if not policy.source:
                continue
            cov = coverage(policy, root)
            low += cov.ratio < 0.98
            print(f"  {school.slug}/{policy.id}: {len(policy.clauses)} clauses, "
                  f"{cov.covered}/{cov.total} source sentences carried ({cov.ratio:.1%})")
            for sentence in cov.missing[:5] if args.verbose else ():
                print(f"    not carried: {sentence[:100]}")
    return 0


def _cmd_kb_diff(args: argparse.Namespace, settings: config.Settings) -> int:
    """Exit 0: no change; 1: changes (like diff); 2: a file is missing or not a policy YAML."""
    import json

    from bot.knowledge.diff import (CarryOverError, carry_over, diff_policies, read_policy_file, report_json,
                                    report_text)
    from bot.knowledge.load import approved_phrasings
    from bot.knowledge.yamlio import YamlError

    try:
        old, new = read_policy_file(Path(args.old)), read_policy_file(Path(args.new))
    except YamlError as exc:
        print(f"policybot kb diff: {exc}", file=sys.stderr)
        return 2
    d = diff_policies(old, new)
    approved = approved_phrasings(settings.knowledge_dir, old.school) if old.school else []
    if args.carry_over:
        try:
            text = carry_over(d, Path(args.new).read_text(encoding="utf-8"), args.old)
        except CarryOverError as exc:
            print(f"policybot kb diff: {args.new}: {exc}; nothing written", file=sys.stderr)
            return 2
        out = Path(args.carry_over)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    carried_to = args.carry_over or None
    if args.json:
        print(json.dumps(report_json(d, carried_to, approved), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(report_text(d, carried_to, approved))
    return 1 if d.has_changes else 0


def _cmd_ingest(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot.knowledge.documents import SUFFIXES, DocumentError
    from bot.knowledge.ingest import draft_document_yaml, read_draft

    path = Path(args.file)
    if path.suffix.lower() not in SUFFIXES:
        print(f"policybot ingest: {path.name}: cannot read {path.suffix or 'a file without an extension'}; "
              "give a Word (.docx), PDF, HTML, .txt or .md file", file=sys.stderr)
        return 2
    try:
        draft = read_draft(path)
    except DocumentError as exc:
        print(f"policybot ingest: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"policybot ingest: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    out, source_out = (Path(args.out) if args.out else None), (Path(args.source_out) if args.source_out else None)
    if args.into:
        root = Path(args.into)
        out = root / "policies" / args.school / f"{args.policy_id}.yaml"
        source_out = root / "sources" / f"{args.school}.txt"
    text = draft_document_yaml(draft, path.name, args.school, args.policy_id, f"sources/{args.school}.txt")
    meta = draft.metadata
    print(f"policybot ingest: {path.name}: {len(draft.clauses)} clauses; title {meta.title or 'NOT FOUND'!r}, "
          f"adopted {meta.adopted or 'NOT FOUND'!r}, reviewed {meta.reviewed or 'not stated'!r}, "
          f"next review {meta.next_review or 'NOT FOUND'!r}", file=sys.stderr)
    for skipped in draft.skipped:
        print(f"  left out: {skipped}", file=sys.stderr)
    if source_out:
        source_out.parent.mkdir(parents=True, exist_ok=True)
        source_out.write_text(draft.source_text, encoding="utf-8")
        print(f"wrote {source_out} (the text the clauses quote)", file=sys.stderr)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_school_add(args: argparse.Namespace, settings: config.Settings) -> int:
    """Write knowledge/schools/SLUG.yaml from options, asking for what is missing on a terminal."""
    from bot.knowledge.load import Contact
    from bot.knowledge.school_file import check_fields, policies_for, school_yaml

    root = Path(args.dir) if args.dir else settings.knowledge_dir
    interactive = sys.stdin.isatty() and not args.no_input

    def ask(value, prompt, default=""):
        if value is not None:
            return value
        if not interactive:
            return default
        answer = input(f"{prompt}{f' [{default}]' if default else ''}: ").strip()
        return answer or default

    slug = ask(args.slug, "Short name for the school (lower-case, e.g. st-marys)")
    name = ask(args.name, "The school's full name")
    people = {}
    for who, role in (("lead", "Online Safety Lead"), ("deputy", "Designated Safeguarding Lead")):
        people[who] = Contact(
            role=ask(getattr(args, f"{who}_role"), f"The {who}'s role", role),
            name=ask(getattr(args, f"{who}_name"), f"The {who}'s name as staff know it (e.g. Mrs J Smith)"),
            email=ask(getattr(args, f"{who}_email"), f"The {who}'s email"),
            slack_user_id=ask(getattr(args, f"{who}_slack"), f"The {who}'s Slack member id (blank if no Slack)"),
            teams_user_id=ask(getattr(args, f"{who}_teams"), f"The {who}'s Teams user id (blank if no Teams)"))
    problems = check_fields(slug or "", name or "", people["lead"], people["deputy"])
    policies = args.policy or (policies_for(root, slug) if slug else [])
    if not policies:
        problems.append(f"no policy for this school yet: run `policybot ingest FILE --school {slug or 'SLUG'} "
                        f"--into {root}` first, or name one with --policy")
    if problems:
        for p in problems:
            print(f"policybot school add: {p}", file=sys.stderr)
        return 2
    target = root / "schools" / f"{slug}.yaml"
    if target.exists() and not args.force:
        print(f"policybot school add: {target} already exists (use --force to replace it)", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(school_yaml(slug, name, people["lead"], people["deputy"], policies), encoding="utf-8")
    print(f"wrote {target}; now run: policybot kb check --dir {root}")
    return 0


def _bot(settings: config.Settings):
    from bot.service import build_bot

    return build_bot(settings)


def _here(answer):
    """The command line records and sends no escalation, and its replies say so plainly."""
    from bot.decide.answer import ANSWER
    from bot.escalations.delivery import COMMAND_LINE

    return None if answer.decision == ANSWER else COMMAND_LINE


def _cmd_ask(args: argparse.Namespace, settings: config.Settings) -> int:
    import json

    from bot.render import render_text

    bot = _bot(settings)
    try:
        answer = bot.answer(args.school, " ".join(args.question))
    except (UnknownSchool, QuestionError) as exc:
        print(f"policybot: {exc}", file=sys.stderr)
        return 2
    delivery = _here(answer)
    print(json.dumps(answer_json(answer, delivery=delivery), ensure_ascii=False, indent=2) if args.json
          else render_text(answer, delivery))
    return 0


def _cmd_batch(args: argparse.Namespace, settings: config.Settings) -> int:
    """One JSON line out per line in; a bad line gets an `error` field and the rest go on."""
    import json

    from adapters import json_reader

    bot = _bot(settings)
    failures = 0
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 -> U+FFFD, refused per line
        sys.stdin.reconfigure(errors="replace")
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        qid, school = None, None
        try:
            request = json_reader.loads(line)  # depth-limited; strings cleaned (bot/text_input.py)
            if not isinstance(request, dict):
                raise ValueError("each line must be a JSON object")
            qid, school = request.get("id"), request.get("school")
            if not isinstance(school, str):
                raise ValueError("'school' is missing or not a string")
            answer = bot.answer(school, request.get("question"))
            out = answer_json(answer, qid, delivery=_here(answer))
        except json_reader.BadJSON as exc:
            failures += 1
            out = {"id": qid, "school": school, "error": f"line {number} is {exc}"}
        except (ValueError, UnknownSchool, QuestionError) as exc:
            failures += 1
            out = {"id": qid, "school": school, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad line must never stop the batch
            failures += 1
            out = {"id": qid, "school": school,
                   "error": f"line {number} could not be answered ({type(exc).__name__})"}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 1 if failures else 0


def _cmd_chat(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot.render import render_text

    bot = _bot(settings)
    schools = sorted(bot.kb.schools)
    school = args.school
    if school and school not in bot.kb.schools:
        print(f"policybot: unknown school {school!r}; known: {', '.join(schools)}", file=sys.stderr)
        return 2
    print("policybot chat: ask about your school's social-media policy. "
          "Type :school SLUG to switch school, :quit to leave.")
    while not school:
        try:
            choice = input(f"Which school? ({', '.join(schools)}) ").strip()
        except EOFError:
            return 0
        school = choice if choice in bot.kb.schools else None
    print(f"School: {bot.kb.school(school).name}")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line in (":quit", ":q", ":exit"):
            return 0
        if line.startswith(":school"):
            wanted = line.split(maxsplit=1)[1].strip() if " " in line else ""
            if wanted in bot.kb.schools:
                school = wanted
                print(f"School: {bot.kb.school(school).name}")
            else:
                print(f"Known schools: {', '.join(schools)}")
            continue
        if not line:
            continue
        try:
            answer = bot.answer(school, line)
            print("\n" + render_text(answer, _here(answer)) + "\n")
        except QuestionError as exc:
            print(str(exc))


def _bots_by_mode(settings: config.Settings) -> dict:
    """One bot per retrieval mode over one knowledge base and one loaded model (BM25 only
    when the model is off or unavailable)."""
    from bot.knowledge.load import load_knowledge
    from bot.service import BM25, FUSED, build_bot, load_semantic

    from bot.service import load_concerns

    kb = load_knowledge(settings.knowledge_dir, settings.cache_dir)
    semantic = load_semantic(kb, settings) if settings.semantic else None
    concerns = load_concerns(kb, settings, semantic.encoder if semantic is not None else None)
    bots = {BM25: build_bot(settings, kb, BM25, concerns=concerns)}
    if semantic is not None:
        bots[FUSED] = build_bot(settings, kb, FUSED, semantic, concerns)
    return bots


_MODE_LABELS = {"bm25": "BM25 only", "semantic": "semantic only", "fused": "fused (BM25 + semantic, the default)"}


def _load_sets(files: list[str], kb) -> dict[str, list] | None:
    from bot import evaluate

    sets = {}
    for file in files:
        items = evaluate.load_items(Path(file))
        unknown = sorted({i.school for i in items} - set(kb.schools))
        if unknown:
            print(f"policybot eval: unknown school(s) in {file}: {', '.join(unknown)}", file=sys.stderr)
            return None
        sets[Path(file).name] = items
    return sets


def _cmd_eval(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot import evaluate, evaluate_answers, evaluate_concerns

    bots = _bots_by_mode(settings)
    kb = next(iter(bots.values())).kb
    sets = _load_sets(args.files, kb)
    if sets is None:
        return 2
    if not settings.semantic or len(bots) == 1:
        print("semantic stage off (POLICYBOT_SEMANTIC=off or model unavailable): BM25 rows only\n")
    folds = {}
    if len(sets) > 1:
        # Live-concern thresholds for each set are fitted on the other sets, so no row below
        # measures the concern detector on questions it was fitted on.
        default = bots.get("fused") or next(iter(bots.values()))
        assessed = {name: evaluate_concerns.assess(default, items) for name, items in sets.items()}
        results = evaluate_concerns.leave_one_set_out(assessed, kb.concerns.digest)
        folds = {r.held_out: r.thresholds for r in results}
        print(evaluate_concerns.report(results))
    else:
        t = next(iter(bots.values())).concerns.thresholds
        print(f"live-concern thresholds: shipped, fitted on {', '.join(t.fitted_on) or 'nothing (defaults)'} "
              f"(in-sample for any of those files; give several files for leave-one-set-out)\n")
    # Every question searched once per mode (with its fold's concern thresholds).
    searched = {mode: {name: evaluate.run_bot(bot.with_concerns(bot.concerns.with_thresholds(folds[name]))
                                              if name in folds else bot, items)
                       for name, items in sets.items()} for mode, bot in bots.items()}
    loso = ({mode: evaluate_answers.leave_one_set_out(bots[mode], by_set) for mode, by_set in searched.items()}
            if len(sets) > 1 else {})
    for name, items in sets.items():
        systems = {"naive baseline (rank-bm25, raw text, best single threshold)": evaluate.run_baseline(kb, items)}
        for mode, bot in bots.items():
            label = _MODE_LABELS[mode]
            if loso:
                fold = next(f for f in loso[mode] if f.held_out == name)
                systems[f"{label}: answerability {fold.model.source} (held out)"] = fold.outcomes
            inside = name in bot.model.source
            systems[f"{label}: shipped model {bot.model.source}{' (IN-SAMPLE)' if inside else ''}"] = searched[mode][name]
        print(f"##### {name}" + (f" (live-concern thresholds fitted on {', '.join(folds[name].fitted_on)})"
                                 if name in folds else "") + "\n")
        print(evaluate.summary(systems))
        print(evaluate.misses(systems[next(k for k in systems if not k.startswith("naive"))]))
        if not args.summary:
            print(evaluate.report(systems))
    if loso:
        _print_loso_summary(loso, bots)
    return 0


def _print_loso_summary(loso: dict, bots: dict) -> None:
    """The headline figures: each held-out set, the mean, the mean at the shipped threshold, long
    questions, and the reliability table."""
    from bot import evaluate, evaluate_answers
    import numpy as np

    keys = [k for k, _ in evaluate._COLUMNS]

    def mean_row(name: str, folds: list, width: int) -> str:
        means = {k: float(np.nanmean([evaluate.metrics(f.outcomes)[k] for f in folds])) for k in keys}
        return f"{name:{width}}{'':>4}  " + "  ".join(f"{evaluate._fmt(means[k]):>9}" for k in keys)

    for mode, folds in loso.items():
        label = _MODE_LABELS[mode]
        rows = {f"{f.held_out} (held out)": f.outcomes for f in folds}
        print(f"== {label}: leave-one-set-out (answerability model fitted on the other sets)")
        print(evaluate.summary(rows).rstrip("\n"))
        width = max(len(n) for n in rows) + 2
        print(mean_row("mean of sets", folds, width))
        shipped = bots[mode].model.threshold
        print(mean_row(f"mean at {shipped:.2f}", evaluate_answers.at_threshold(bots[mode], folds, shipped), width)
              + "   <- the same folds at the shipped model's threshold")
        long_rows = {f"{f.held_out}, 3+ sentences": evaluate_answers.long_questions(f.outcomes) for f in folds}
        long_rows = {k: v for k, v in long_rows.items() if v}
        if long_rows:
            print(evaluate.summary(long_rows).rstrip("\n"))
        seps = {f.held_out: evaluate_answers.separation(f.outcomes) for f in folds}
        print("separation (AUC: a question a cited clause answers ranked above one it should not be answered "
              "from): " + ", ".join(f"{n} {v:.3f}" for n, v in seps.items())
              + f", mean {float(np.nanmean(list(seps.values()))):.3f}")
        pooled = [o for f in folds for o in f.outcomes]
        print(f"\nreliability, all held-out questions pooled ({label}): predicted confidence vs how often a "
              "cited clause answered a question that should be answered")
        print(evaluate_answers.reliability_report(pooled))


def _cmd_concerns_fit(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot import evaluate_concerns
    from bot.decide.concern import model_path
    from bot.knowledge.load import concern_root
    from bot.service import FUSED, write_concern_seed

    bots = _bots_by_mode(settings)
    bot = bots.get(FUSED) or next(iter(bots.values()))
    if not bot.concerns.semantic:
        print("policybot concerns fit: the semantic layer is off (POLICYBOT_SEMANTIC=off or the model is "
              "unavailable); thresholds can only be fitted with it", file=sys.stderr)
        return 2
    sets = _load_sets(args.files, bot.kb)
    if sets is None:
        return 2
    assessed = {name: evaluate_concerns.assess(bot, items) for name, items in sets.items()}
    if len(assessed) > 1:
        print(evaluate_concerns.report(evaluate_concerns.leave_one_set_out(assessed, bot.kb.concerns.digest)))
    t = evaluate_concerns.fit_on(assessed, list(assessed), bot.kb.concerns.digest)
    target = Path(args.out) if args.out else model_path(concern_root(bot.kb.root))
    n = sum(len(v) for v in assessed.values())
    t.save(target, f"Live-concern thresholds fitted by `policybot concerns fit` on {n} labelled questions "
                   f"({', '.join(assessed)}) over the concern bank with digest {t.bank_digest}. Do not edit by "
                   "hand; refit after changing the bank.")
    print(f"fitted on all {n} questions: margin {t.margin:+.3f}, topic margin {t.topic_margin:+.3f}; wrote {target}")
    seed = write_concern_seed(bot, settings)
    print(f"wrote the bank's vectors to {seed} (a first start reads them instead of encoding them)")
    return 0


def _cmd_encoder_tune(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot.knowledge.load import load_knowledge
    from bot.retrieval import tune_encoder
    from bot.retrieval.embedding import ANSWERS, TUNED_WEIGHTS, model_dir

    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"policybot encoder tune: needs {exc.name} (pip install torch==2.13.0 'transformers>=4.40,<5'); "
              "the bot itself runs without it", file=sys.stderr)
        return 2
    kb = load_knowledge(settings.knowledge_dir)
    pairs = tune_encoder.training_pairs(kb, settings.knowledge_dir / "drafts")
    # The answers' weights also learn what the policies do not say; the live-concern detector's
    # are tuned on the pairs alone (README "Semantic stage").
    silent = tune_encoder.silent_queries(kb, settings.knowledge_dir / "drafts") if args.job == ANSWERS else []
    out = Path(args.out) if args.out else TUNED_WEIGHTS[args.job]
    print(f"tuning on {len(pairs)} (query, clause) pairs and {len(silent)} policy-silent questions from "
          f"{len(kb.schools)} schools' knowledge -> {out}")
    tune_encoder.tune(pairs, model_dir(), out, args.epochs, silent=silent)
    print(f"wrote {out}; now refit what reads its vectors: policybot concerns fit ..., policybot calibrate ...")
    return 0


def _cmd_calibrate(args: argparse.Namespace, settings: config.Settings) -> int:
    from bot import evaluate, evaluate_answers
    from bot.decide.answerability import MODEL_FILE, dump_models

    bots = _bots_by_mode(settings)
    kb = next(iter(bots.values())).kb
    sets = _load_sets(args.files, kb)
    if sets is None:
        return 2
    models = {}
    for mode, bot in bots.items():
        by_set = {name: evaluate.run_bot(bot, items) for name, items in sets.items()}
        if len(by_set) > 1:
            folds = evaluate_answers.leave_one_set_out(bot, by_set)
            print(f"{_MODE_LABELS[mode]}: leave-one-set-out before fitting on all")
            print(evaluate.summary({f"{f.held_out} (held out)": f.outcomes for f in folds}))
        model = evaluate_answers.fit_on(bot, by_set)
        print(f"{_MODE_LABELS[mode]}: fitted on {', '.join(by_set)}; threshold {model.threshold:.2f} "
              "(chosen on cross-fitted confidences)\n")
        models[mode] = (model, ", ".join(by_set))
    target = Path(args.out) if args.out else settings.knowledge_dir / MODEL_FILE
    n = sum(len(v) for v in sets.values())
    dump_models(target, models, f"fitted on {', '.join(sets)} ({n} labelled questions)")
    print(f"wrote {target}")
    return 0


def _cmd_serve(args: argparse.Namespace, settings: config.Settings) -> int:
    workers = args.workers or settings.workers
    if workers > 1 and args.worker_index is None:
        from adapters.workers import supervise

        return supervise(settings, workers)
    from adapters.server import run

    return run(settings, worker=args.worker_index, reuse_port=args.reuse_port)


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n} is not between 1 and 64")
    return n


def _cmd_escalations(args: argparse.Namespace, settings: config.Settings) -> int:
    from .escalations import run

    return run(args, settings)


def _cmd_feedback(args: argparse.Namespace, settings: config.Settings) -> int:
    from .feedback import run

    return run(args, settings)


def _cmd_gaps(args: argparse.Namespace, settings: config.Settings) -> int:
    from .feedback import run_gaps

    return run_gaps(args, settings)


def _cmd_worker(args: argparse.Namespace, settings: config.Settings) -> int:
    import logging

    from adapters.log_format import SafeFormatter
    from bot.escalations.worker import main as worker_main

    # The worker's own basicConfig is then a no-op: its lines go through the escaping formatter.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)

    return worker_main(settings)


def _cmd_teams_package(args: argparse.Namespace, settings: config.Settings) -> int:
    from adapters.teams.package import run

    return run(args)


def _cmd_slack_manifest(args: argparse.Namespace, settings: config.Settings) -> int:
    from adapters.slack.manifest import EXAMPLE_URL, render

    sys.stdout.write(render(args.url or EXAMPLE_URL, args.socket_mode, history_scopes=args.history_scopes))
    return 0


def _add_escalation_commands(sub) -> None:
    """`escalations ...` (the lead's CLI) and `worker` (the outbox/routing worker), issue 5."""
    from .escalations import add_parser

    add_parser(sub)
    sub.choices["escalations"].set_defaults(func=_cmd_escalations)
    from .feedback import add_parser as add_feedback

    add_feedback(sub)
    sub.choices["feedback"].set_defaults(func=_cmd_feedback)
    sub.choices["gaps"].set_defaults(func=_cmd_gaps)
    worker = sub.add_parser("worker", help="deliver escalation notices and answers until SIGTERM/SIGINT")
    worker.set_defaults(func=_cmd_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policybot", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate a knowledge directory")
    check.add_argument("--dir", help="knowledge directory (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one)")
    check.add_argument("-v", "--verbose", action="store_true", help="list source sentences no clause carries")
    check.set_defaults(func=_cmd_kb_check)
    kdiff = kb_sub.add_parser("diff", help="clauses added, removed, reworded and renumbered between two versions "
                              "of a policy YAML (exit 0: none, 1: changes, 2: bad input)")
    kdiff.add_argument("old", metavar="OLD", help="the live policy YAML")
    kdiff.add_argument("new", metavar="NEW", help="the new version, e.g. a fresh `policybot ingest` draft")
    kdiff.add_argument("--json", action="store_true", help="print the report as JSON")
    kdiff.add_argument("--carry-over", metavar="OUT", help="write NEW with OLD's about phrasings and stance "
                       "overrides on the clauses that survived; reworded ones marked '# review:'")
    kdiff.set_defaults(func=_cmd_kb_diff)

    ingest = sub.add_parser("ingest", help="draft clause YAML from a policy (.docx, .pdf, .html, .txt, .md), "
                            "numbering, title and dates kept")
    ingest.add_argument("file")
    ingest.add_argument("--school", required=True)
    ingest.add_argument("--policy-id", default="social-media-policy")
    ingest.add_argument("--out", help="write the draft YAML here instead of stdout")
    ingest.add_argument("--source-out", help="write the text the clauses quote here (the policy's source: file)")
    ingest.add_argument("--into", metavar="KNOWLEDGE_DIR", help="write both into a knowledge directory: "
                        "policies/SCHOOL/POLICY_ID.yaml and sources/SCHOOL.txt")
    ingest.set_defaults(func=_cmd_ingest)

    school = sub.add_parser("school", help="set up a school")
    school_sub = school.add_subparsers(dest="school_command", required=True)
    add = school_sub.add_parser("add", help="write the school file (asks for what is not given)")
    add.add_argument("--slug", help="short name, lower-case letters, digits and '-'")
    add.add_argument("--name", help="the school's full name")
    for who in ("lead", "deputy"):
        add.add_argument(f"--{who}-role")
        add.add_argument(f"--{who}-name")
        add.add_argument(f"--{who}-email")
        add.add_argument(f"--{who}-slack", help=f"the {who}'s Slack member id")
        add.add_argument(f"--{who}-teams", help=f"the {who}'s Teams user id")
    add.add_argument("--policy", action="append", help="policy id (default: every file in policies/SLUG/)")
    add.add_argument("--dir", help="knowledge directory (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one)")
    add.add_argument("--force", action="store_true", help="replace an existing school file")
    add.add_argument("--no-input", action="store_true", help="never ask; fail on what is missing")
    add.set_defaults(func=_cmd_school_add)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("--school", required=True)
    ask.add_argument("--json", action="store_true", help="print the batch JSON contract")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(func=_cmd_ask)

    batch = sub.add_parser("batch", help="JSON lines {id, school, question} on stdin -> answers on stdout")
    batch.set_defaults(func=_cmd_batch)

    chat = sub.add_parser("chat", help="interactive chat in the terminal")
    chat.add_argument("--school")
    chat.set_defaults(func=_cmd_chat)

    ev = sub.add_parser("eval", help="measure on labelled question files, beside a naive baseline; with "
                        "several files, live-concern figures are leave-one-set-out")
    ev.add_argument("files", nargs="+", metavar="FILE")
    ev.add_argument("--summary", action="store_true", help="overall rows only, no per-school tables")
    ev.set_defaults(func=_cmd_eval)

    concerns = sub.add_parser("concerns", help="the live-concern detector")
    concerns_sub = concerns.add_subparsers(dest="concerns_command", required=True)
    fit = concerns_sub.add_parser("fit", help="fit the detector's thresholds on labelled question files "
                                  "(prints leave-one-set-out figures first)")
    fit.add_argument("files", nargs="+", metavar="FILE")
    fit.add_argument("--out", help="where to write (default: KNOWLEDGE_DIR/concerns/model.yaml)")
    fit.set_defaults(func=_cmd_concerns_fit)

    enc = sub.add_parser("encoder", help="the sentence model")
    enc_sub = enc.add_subparsers(dest="encoder_command", required=True)
    tune = enc_sub.add_parser("tune", help="adapt the sentence model to the knowledge base's own example "
                                           "questions (needs torch and transformers; see tune_encoder.py)")
    tune.add_argument("--job", choices=("answers", "concerns"), default="answers",
                      help="answers (with the policy-silent questions; knowledge/encoder/) or live concerns "
                           "(the pairs alone; knowledge/encoder/concerns/)")
    tune.add_argument("--out", help="where to write the weights (default: the job's file)")
    tune.add_argument("--epochs", type=int, default=2)
    tune.set_defaults(func=_cmd_encoder_tune)

    cal = sub.add_parser("calibrate", help="fit the answerability model on labelled question files "
                         "(prints leave-one-set-out figures first when given several)")
    cal.add_argument("files", nargs="+", metavar="FILE")
    cal.add_argument("--out", help="where to write (default: KNOWLEDGE_DIR/answerability.yaml)")
    cal.set_defaults(func=_cmd_calibrate)

    # --- server commands (issue 4) ---
    serve = sub.add_parser("serve", help="run the server: web chat, health checks (host/port from the environment)")
    serve.add_argument("--workers", type=_workers, default=None,
                       help="answering processes behind the one port, sharing the database "
                            "(default: WEB_CONCURRENCY, else 1)")
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)  # set by the parent
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set by the parent
    serve.set_defaults(func=_cmd_serve)
    from .reload import add_parser as add_reload

    add_reload(sub)
    # --- escalation commands (issue 5) ---
    _add_escalation_commands(sub)
    # --- slack app manifest (issue 6) ---
    sm = sub.add_parser("slack-manifest", help="print the Slack app manifest to paste at api.slack.com/apps")
    sm.add_argument("--url", help="the server's public base URL, for HTTP mode (default: a placeholder)")
    sm.add_argument("--socket-mode", action="store_true", help="Socket Mode: no public URL needed")
    sm.add_argument("--without-history-scopes", dest="history_scopes", action="store_false",
                    help="leave out channels:history and groups:history (then a crash at the wrong moment "
                         "can give a channel thread a second reply)")
    sm.set_defaults(func=_cmd_slack_manifest)
    # --- teams app package (issue 7) ---
    tp = sub.add_parser("teams-package", help="build the Teams app package (manifest.json + icons) to upload")
    tp.add_argument("--out", default="policybot-teams.zip", help="where to write the zip (default: %(default)s)")
    tp.add_argument("--app-id", help="the bot's Microsoft App ID (default: MICROSOFT_APP_ID)")
    tp.add_argument("--name", default="policybot", help="the app's name in Teams, up to 30 characters")
    tp.add_argument("--host", help="the bot's public host, e.g. policybot.school.org (validDomains, default links)")
    tp.add_argument("--developer", default="policybot", help="developer name shown on the app's About page")
    tp.add_argument("--website-url", help="developer website (default: https://HOST/)")
    tp.add_argument("--privacy-url", help="privacy notice (default: the website)")
    tp.add_argument("--terms-url", help="terms of use (default: the website)")
    tp.add_argument("--app-version", help="the app's version; raise it for each new upload (default: policybot's)")
    tp.set_defaults(func=_cmd_teams_package)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.from_env()
    except config.ConfigError as exc:
        print(f"policybot: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings)
    except BrokenPipeError:
        # The reader stopped early (`policybot eval ... | head`): not an error worth a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except KnowledgeError as exc:
        print(f"policybot: the knowledge base has problems:\n{exc}", file=sys.stderr)
        return 2

