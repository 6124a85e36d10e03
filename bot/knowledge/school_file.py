"""Writing a school file (`policybot school add`) and explaining `kb check` problems in plain words.

A school's IT person sets policybot up, not its author: "school has no deputy" means
little to them, "add the deputy: the person questions go to when the lead does not answer"
does. `explain` gives that sentence for each problem the loader reports.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .load import SLUG, Contact


def check_fields(slug: str, name: str, lead: Contact, deputy: Contact) -> list[str]:
    """What is wrong with the answers given, in words for the person typing them."""
    problems = []
    if not SLUG.match(slug or ""):
        problems.append(f"the short name {slug!r} must be lower-case letters, digits and '-' only (e.g. 'st-marys')")
    if not (name or "").strip():
        problems.append("give the school's full name, as staff know it")
    for who, person in (("lead", lead), ("deputy", deputy)):
        if not person.role.strip():
            problems.append(f"give the {who}'s role (e.g. 'Online Safety Lead'): the bot tells staff it is passing "
                            "their question to this role")
        if person.email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", person.email):
            problems.append(f"the {who}'s email {person.email!r} does not look like an email address")
        if person.slack_user_id and not re.fullmatch(r"[UW][A-Z0-9]{6,}", person.slack_user_id):
            problems.append(f"the {who}'s Slack member id {person.slack_user_id!r} should look like U012AB3CD "
                            "(Slack: profile, ⋮, Copy member ID)")
        if not (person.email or person.slack_user_id or person.teams_user_id):
            problems.append(f"give at least one way to reach the {who} (email, Slack member id or Teams user id), "
                            "or questions for them can only be written to the log")
    return problems


def school_yaml(slug: str, name: str, lead: Contact, deputy: Contact, policies: list[str]) -> str:
    data = {"slug": slug, "name": name, "lead": lead.as_dict(), "deputy": deputy.as_dict(),
            "policies": list(policies)}
    head = (f"# {name}: written by `policybot school add`. The lead gets the questions the bot cannot\n"
            "# answer; the deputy gets them when the lead has not acknowledged in time, and both get\n"
            "# urgent safeguarding questions at once.\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def policies_for(root: Path, slug: str) -> list[str]:
    return sorted(p.stem for p in (Path(root) / "policies" / slug).glob("*.yaml"))


_EXPLAIN = (
    (r"note .*'(text|author|date|source|id)' is missing",
     lambda m: {"text": "A note is the lead's answer: give it under 'text:'.",
                "author": "Give who gave the answer under 'author:' (and 'role:'): staff are shown it as their "
                          "guidance, by name.",
                "date": "Give the day the answer was given under 'date:', written YYYY-MM-DD: staff are shown it.",
                "source": "A note needs 'source: lead answer', which marks it as the lead's guidance, not policy.",
                "id": "Give the note an id (policybot writes note-<escalation id>); ids must be unique in the "
                      "school."}[m[1]]),
    (r"note .*source must be",
     lambda m: "Notes are the lead's answers; write 'source: lead answer' (policy text belongs in policies/)."),
    (r"phrasing for '.+': no such clause",
     lambda m: "A phrasing names a clause (or note) of this school by its id: correct the id, e.g. after a policy "
               "update renumbered the clause, or delete the phrasing."),
    (r"school has no (lead|deputy)",
     lambda m: f"Add the {m[1]} to the school file: the person questions go to"
               + (" when the bot cannot answer" if m[1] == "lead" else " when the lead does not answer in time")
               + " (policybot school add writes it for you)."),
    (r"(lead|deputy): 'role' is missing",
     lambda m: f"Give the {m[1]}'s role, e.g. 'Online Safety Lead': staff are told their question goes to this role."),
    (r"school: 'name' is missing", lambda m: "Give the school's full name, as staff know it."),
    (r"school lists no policies",
     lambda m: "List the policy files the school uses under 'policies:' (run policybot ingest first)."),
    (r"policy '(.+)' not found at (\S+)",
     lambda m: f"The school file names a policy '{m[1]}' but there is no {m[2]}: run policybot ingest with "
               f"--policy-id {m[1]}, or correct the name."),
    (r"policy: '(title|next_review|adopted)' is missing",
     lambda m: {"title": "Give the policy's title as it is written on the document.",
                "next_review": "Give the date the policy is next to be reviewed, as the document writes it "
                               "(e.g. 'September 2026'): staff are warned when it has passed.",
                "adopted": "Give the date the policy was adopted."}[m[1]]),
    (r"policy: '(title|adopted|reviewed|next_review)' is still the draft's TODO",
     lambda m: {"title": "Put the policy's title as the document writes it (ingest could not find it).",
                "adopted": "Put the date the governors adopted the policy, as the document writes it, or '' "
                           "if it does not say.",
                "reviewed": "Put the date of the last review, or '' if the document does not say.",
                "next_review": "Put the date the policy is next to be reviewed, e.g. 'Autumn 2026': staff are "
                               "warned when it has passed."}[m[1]]),
    (r"cannot read review date '(TODO[^']*)'",
     lambda m: "The next review date is still the draft's TODO: put the date the document gives, e.g. 'Autumn 2026'."),
    (r"cannot read review date",
     lambda m: "The review date is not in a form policybot knows; add next_review_by: YYYY-MM-DD beside it."),
    (r"is not verbatim in the source policy",
     lambda m: "This clause's words differ from the policy document: clauses must quote it exactly, so staff "
               "get the policy's own words. Copy the text from the source file again."),
    (r"duplicate clause id",
     lambda m: "Two clauses have the same number: give one of them its own id."),
    (r"school slug '(.+)' must match the file name",
     lambda m: "The slug inside the school file must be the file's name without .yaml."),
    (r"policy says school",
     lambda m: "The policy file names another school than the folder it is in: fix 'school:' in it."),
    (r"unknown field '(.+)'",
     lambda m: f"'{m[1]}' is not a field policybot knows (a typing mistake?): remove or correct it."),
)


def explain(message: str) -> str:
    """A plain-words sentence for a loader problem ('' when there is nothing to add)."""
    for pattern, say in _EXPLAIN:
        if m := re.search(pattern, message):
            return say(m)
    return ""
