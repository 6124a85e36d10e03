"""The `policybot` command: ask, batch, eval, chat, kb check, ingest."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .knowledge import KnowledgeError, load_knowledge


def _cmd_kb_check(args: argparse.Namespace, settings: config.Settings) -> int:
    root = Path(args.dir) if args.dir else settings.knowledge_dir
    try:
        kb = load_knowledge(root)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    clauses = sum(len(s.clauses) for s in kb.schools.values())
    print(f"ok: {len(kb.schools)} schools, {clauses} clauses, {len(kb.synonyms)} synonym groups in {root}")
    return 0


def _cmd_ingest(args: argparse.Namespace, settings: config.Settings) -> int:
    from .ingest import draft_yaml

    path = Path(args.file)
    if path.suffix.lower() not in (".txt", ".md"):
        print(f"policybot ingest: {path} is not a .txt or .md file", file=sys.stderr)
        return 2
    try:
        text = draft_yaml(path, args.school, args.policy_id)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"policybot ingest: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policybot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate a knowledge directory")
    check.add_argument("--dir", help="knowledge directory (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one)")
    check.set_defaults(func=_cmd_kb_check)

    ingest = sub.add_parser("ingest", help="draft clause YAML from a policy .txt/.md, numbering kept")
    ingest.add_argument("file")
    ingest.add_argument("--school", required=True)
    ingest.add_argument("--policy-id", default="social-media-policy")
    ingest.add_argument("--out", help="write here instead of stdout")
    ingest.set_defaults(func=_cmd_ingest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.from_env()
    except config.ConfigError as exc:
        print(f"policybot: configuration error: {exc}", file=sys.stderr)
        return 2
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
