"""`policybot escalations list|show|ack|answer|close`: the lead's tools until the chat adapters
land. The audience is the lead, so question text is shown here (it never goes to the logs)."""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys

from bot.escalations.factory import open_store
from bot.escalations.model import ANSWERED, CLOSED, STATUSES, IllegalTransition, NotFound, iso
from bot.escalations.notify import default_registry
from bot.escalations.service import EscalationService
from bot.escalations.store import Conflict, StoreUnavailable
from bot.knowledge.notes_write import Keep


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


async def _list(service: EscalationService, args: argparse.Namespace) -> int:
    rows = await service.list(status=args.status, school=args.school, limit=args.limit)
    if not rows:
        print("no escalations")
        return 0
    print(f"{'ID':<11} {'STATUS':<12} {'SCHOOL':<14} {'REASON':<15} {'URG':<3} {'CREATED':<20} {'HOLDER':<16} QUESTION")
    for e in rows:
        print(f"{e.id:<11} {e.status:<12} {_short(e.school, 14):<14} {e.reason:<15} {'!' if e.urgent else '':<3} "
              f"{iso(e.created_at):<20} {_short(e.holder or '-', 16):<16} {_short(e.question or '(purged)', 50)}")
    return 0


async def _show(service: EscalationService, args: argparse.Namespace) -> int:
    e = await service.get(args.id)
    a = e.asker
    print(f"Escalation {e.id}{'  URGENT (' + e.concern + ')' if e.urgent else ''}")
    print(f"  school:     {e.school_name} ({e.school})")
    print(f"  status:     {e.status}" + (f", held by {e.holder}" if e.holder else ""))
    print(f"  reason:     {e.reason}")
    print(f"  asker:      {a.display_name or a.user_id or '-'} via {a.platform} "
          f"(user {a.user_id or '-'}, conversation {a.conversation or '-'}, thread {a.thread or '-'})")
    print(f"  lead:       {e.lead.display}; deputy: {e.deputy.display}")
    print(f"  created:    {iso(e.created_at)}   acknowledged: {iso(e.acknowledged_at)}   "
          f"answered: {iso(e.answered_at)}   closed: {iso(e.closed_at)}")
    print("  question:")
    print("    " + (e.question or f"(removed under the retention policy, {iso(e.purged_at)})").replace("\n", "\n    "))
    print("  candidate clauses:")
    for c in e.candidates or ():
        print(f"    {c.clause_id}: {c.ref}")
    if not e.candidates:
        print("    (none)")
    if e.answer_text:
        print(f"  answer by {e.answered_by}:")
        print("    " + e.answer_text.replace("\n", "\n    "))
    print("  deliveries:")
    waiting = set(service.registry.channels())
    for m in await service.messages(e.id):
        extra = f" [{m.last_error}]" if m.last_error else ""
        extra += f" ({m.payload['note']})" if m.payload.get("note") else ""
        hint = " (no notifier for this channel in this process yet; waits)" if (
            m.status == "pending" and m.channel not in waiting) else ""
        print(f"    {m.id} {m.kind:<16} to {m.recipient_role:<7} via {m.channel:<6} {m.status:<9} "
              f"attempts={m.attempts} sent={iso(m.sent_at)}{extra}{hint}")
    return 0


async def _ack(service: EscalationService, args: argparse.Namespace) -> int:
    e = await service.acknowledge(args.id, args.by)
    print(f"{e.id} acknowledged by {e.holder}")
    return 0


async def _answer(service: EscalationService, args: argparse.Namespace) -> int:
    text = args.text if args.text is not None else sys.stdin.read()
    keep = None
    if (args.keep_question or args.question is not None or args.phrasing_for) and not (args.reusable or args.phrasing):
        raise ValueError("--keep-question, --question and --phrasing-for go with --reusable or --phrasing; "
                         "nothing was sent")
    if args.reusable or args.phrasing:
        question = args.question
        if question is None and (args.keep_question or args.phrasing):
            # The lead's say-so (--keep-question / --phrasing) for the question as asked, which
            # `escalations show` printed for them to review; --question rewords it.
            question = (await service.get(args.id)).question
        keep = Keep(note=args.reusable, question=question or "", keep_question=args.keep_question,
                    phrasing=args.phrasing, phrasing_for=args.phrasing_for or "")
    e, outcome = await service.answer_and_keep(args.id, args.by, text, keep)
    print(f"{e.id} answered by {e.answered_by}; the answer is queued to the asker via {e.asker.platform}")
    if outcome.message:
        print(outcome.message, file=sys.stderr if outcome.error else sys.stdout)
    return 1 if outcome.error else 0


async def _close(service: EscalationService, args: argparse.Namespace) -> int:
    current = await service.get(args.id)
    if current.status not in (ANSWERED, CLOSED) and not args.unanswered:
        print(f"policybot escalations: {current.id} is {current.status} and has no answer, so the asker has not "
              "heard back; answer it first (escalations answer), or pass --unanswered to close it anyway "
              "(e.g. dealt with in person)", file=sys.stderr)
        return 1
    e = await service.close(args.id)
    print(f"{e.id} closed")
    return 0


COMMANDS = {"list": _list, "show": _show, "ack": _ack, "answer": _answer, "close": _close}


def run(args: argparse.Namespace, settings) -> int:
    async def _go() -> int:
        async with open_store(settings) as store:
            service = EscalationService(store, default_registry(settings), knowledge_dir=settings.knowledge_dir)
            return await COMMANDS[args.esc_command](service, args)

    try:
        return asyncio.run(_go())
    except (NotFound, IllegalTransition, Conflict, ValueError) as exc:
        print(f"policybot escalations: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the file went bad or stayed locked after it was opened
        print(f"policybot escalations: the escalation store failed: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"policybot escalations: the escalation store cannot be opened: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncio.TimeoutError) as exc:  # PostgreSQL unreachable, refused, timed out
        print(f"policybot escalations: the escalation store cannot be reached: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2


def _name(value: str) -> str:
    """--by: a name the asker will see; blank (or only spaces / control characters) is refused."""
    name = " ".join(value.split())
    if not name or not any(ch.isalnum() for ch in name):
        raise argparse.ArgumentTypeError("give your name, as the asker will see it (it cannot be empty)")
    if len(name) > 200:
        raise argparse.ArgumentTypeError("a name of at most 200 characters, please")
    return name


def add_parser(sub) -> None:
    """Adds `escalations` and its subcommands to the top-level subparsers."""
    esc = sub.add_parser("escalations", help="questions escalated to a school's lead: list, show, ack, answer, close")
    esc_sub = esc.add_subparsers(dest="esc_command", required=True)
    ls = esc_sub.add_parser("list", help="escalations, newest first")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--school")
    ls.add_argument("--limit", type=int, default=100)
    show = esc_sub.add_parser("show", help="one escalation with its question, clauses and deliveries")
    show.add_argument("id")
    ack = esc_sub.add_parser("ack", help="take an escalation on (stops reminders)")
    ack.add_argument("id")
    ack.add_argument("--by", required=True, type=_name, help="your name, as the asker will see it")
    ans = esc_sub.add_parser("answer", help="answer; the reply goes to the asker's conversation")
    ans.add_argument("id")
    ans.add_argument("--by", required=True, type=_name, help="your name, as the asker will see it")
    ans.add_argument("--text", help="the answer (default: read from stdin)")
    ans.add_argument("--reusable", action="store_true",
                     help="also save the answer as guidance for the school (knowledge/notes/SCHOOL.yaml), "
                          "cited to later askers of similar questions as your guidance, with its date")
    ans.add_argument("--keep-question", action="store_true",
                     help="with --reusable: keep the question with the note (as asked, or as --question words it)")
    ans.add_argument("--phrasing", action="store_true",
                     help="add the question (as asked, or as --question words it) as a phrasing of the clause "
                          "or note that answers it (knowledge/phrasings/SCHOOL.yaml)")
    ans.add_argument("--phrasing-for", metavar="CLAUSE",
                     help="with --phrasing: the clause id it is a phrasing of (default: the note --reusable saves)")
    ans.add_argument("--question", metavar="TEXT",
                     help="the question as it should be kept, reworded by you (leave out any child's name)")
    close = esc_sub.add_parser("close", help="close an answered escalation")
    close.add_argument("id")
    close.add_argument("--unanswered", action="store_true",
                       help="close it although nobody answered (e.g. dealt with in person): the asker gets no reply")
