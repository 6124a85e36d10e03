"""`policybot feedback [--school SLUG] [--since YYYY-MM-DD] [--json]`: what staff made of the
answers, from the one feedback record every channel (Slack, Teams, web chat) writes: per
school, answers given, Helpful / Not helpful votes and escalations, and the same per cited
clause. Counts only: no question text is printed, so it is safe to share with the school."""
from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from bot.escalations.factory import open_store
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.store import StoreUnavailable

PROG = "policybot feedback"


def _since(value: str) -> float:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a date like 2026-09-01, please") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def _print_table(report: dict) -> None:
    if not report:
        print("no feedback recorded yet")
        return
    for slug, school in report.items():
        t = school.totals
        print(f"{slug}: answered {t.answered}, helpful {t.helpful}, not helpful {t.not_helpful}, "
              f"escalated {t.escalated}")
        if school.clauses:
            print(f"  {'CLAUSE':<12} {'ANSWERED':>8} {'HELPFUL':>8} {'NOT HELPFUL':>11} {'ESCALATED':>9}")
        for row in school.as_dict()["clauses"]:
            print(f"  {row['clause']:<12} {row['answered']:>8} {row['helpful']:>8} {row['not_helpful']:>11} "
                  f"{row['escalated']:>9}")


def missing_sqlite(settings) -> Path | None:
    """The SQLite file a read-only report would otherwise create empty, when it does not exist."""
    if settings.database_url:
        return None
    path = Path(settings.db_path)
    return None if path.exists() else path


def _read(settings, query):
    """(result, None) from `query(service)` on the configured store, or (None, exit code) after
    one clear line: a report never creates a database, hangs, or shows a traceback."""
    missing = missing_sqlite(settings)
    if missing is not None:
        print(f"{PROG}: there is no escalation database at {missing} (nothing recorded yet, or "
              "DATABASE_URL points elsewhere)", file=sys.stderr)
        return None, 2

    async def _go():
        async with open_store(settings) as store:
            return await query(EscalationService(store, NotifierRegistry()))

    try:
        return asyncio.run(_go()), None
    except sqlite3.Error as exc:  # the file went bad or stayed locked after it was opened
        print(f"{PROG}: the escalation store failed: {exc}", file=sys.stderr)
    except StoreUnavailable as exc:
        print(f"{PROG}: the escalation store cannot be opened: {exc}", file=sys.stderr)
    except (OSError, asyncio.TimeoutError) as exc:  # PostgreSQL unreachable, refused, timed out
        print(f"{PROG}: the escalation store cannot be reached: {type(exc).__name__}: {exc}", file=sys.stderr)
    return None, 2


def run(args: argparse.Namespace, settings) -> int:
    report, failed = _read(settings, lambda service: service.feedback_report(school=args.school, since=args.since))
    if failed:
        return failed
    if args.school and args.school not in report:
        report = {}
    if args.json:
        print(json.dumps({"schools": [s.as_dict() for s in report.values()]}, indent=2))
    else:
        _print_table(report)
    return 0


def run_gaps(args: argparse.Namespace, settings) -> int:
    """`policybot gaps --school SLUG [--since DATE] [--json]`: for the school's lead, so it shows
    the question text the store still holds (never in logs)."""
    groups, failed = _read(settings, lambda service: service.gaps(args.school, since=args.since))
    if failed:
        return failed
    if args.json:
        print(json.dumps({"school": args.school, "gaps": [g.as_dict() for g in groups]}, indent=2))
        return 0
    if not groups:
        print(f"{args.school}: no escalated or not-helpful questions recorded")
        return 0
    for g in groups:
        print(f"{g.clause}{'  ' + g.where if g.where else ''}: {len(g.questions)} question(s)")
        for q in g.questions:
            why = f", {q.reason}" if q.reason else ""
            print(f"  - [{q.kind}{why}] {q.question}")
    return 0


def add_parser(sub) -> None:
    fb = sub.add_parser("feedback", help="per school: answered, helpful, not helpful, escalated; and per clause")
    fb.add_argument("--school", help="one school's slug (default: every school)")
    fb.add_argument("--since", type=_since, help="from this date on (YYYY-MM-DD, UTC)")
    fb.add_argument("--json", action="store_true", help="JSON instead of a table")
    gp = sub.add_parser("gaps", help="escalated and not-helpful questions grouped by nearest clause, and those "
                                     "with no match: where the policy or its phrasings fall short")
    gp.add_argument("--school", required=True, help="the school's slug")
    gp.add_argument("--since", type=_since, help="from this date on (YYYY-MM-DD, UTC)")
    gp.add_argument("--json", action="store_true", help="JSON instead of a list")
