"""Who this deployment can actually reach: checked, never assumed.

A lead can be told of an escalation only on a channel this deployment runs a notifier for
(Slack, Teams, email) AND on which the lead has an address (their Slack or Teams user id, their
email). The log is where a notice goes when nobody can be reached; it reaches no person, so it
never counts here. `policybot kb check`, the server's start-up lines, /readyz and the web chat
all read this, so a school whose lead cannot be reached is said to be so before anyone relies on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..knowledge.load import Contact, KnowledgeBase, School

PERSON_CHANNELS = ("slack", "teams", "email")  # channels that reach a person (not the log)
CHANNEL_WORDS = {"slack": "Slack", "teams": "Teams", "email": "email"}
_ADDRESS_WORDS = {"slack": "a Slack user id (slack_user_id)", "teams": "a Teams user id (teams_user_id)",
                  "email": "an email address (email)"}


def reachable_on(contact: Contact, channels: Iterable[str]) -> tuple[str, ...]:
    """The channels, of those this deployment runs, on which this contact has an address."""
    running = set(channels)
    return tuple(c for c in PERSON_CHANNELS if c in running and contact.address(c))


@dataclass(frozen=True)
class SchoolReach:
    school: str
    lead: tuple[str, ...]    # channels the lead can be reached on
    deputy: tuple[str, ...]

    @property
    def anyone(self) -> bool:
        return bool(self.lead or self.deputy)

    def as_dict(self) -> dict:
        return {"lead": list(self.lead), "deputy": list(self.deputy), "anyone": self.anyone}


def school_reach(school: School, channels: Iterable[str]) -> SchoolReach:
    channels = tuple(channels)
    return SchoolReach(school.slug, reachable_on(school.lead, channels), reachable_on(school.deputy, channels))


def unreachable_warnings(kb: KnowledgeBase, channels: Iterable[str]) -> list[str]:
    """One plain sentence per school whose lead and deputy no running channel can reach, saying
    what to set. Empty when every school can escalate to a person."""
    channels = tuple(channels)
    out = []
    running = [c for c in PERSON_CHANNELS if c in channels]
    for school in kb.schools.values():
        if school_reach(school, channels).anyone:
            continue
        if running:
            need = " or ".join(_ADDRESS_WORDS[c] for c in running)
            how = f"give the lead or deputy {need} in knowledge/schools/{school.slug}.yaml"
        else:
            how = ("no channel that reaches a person is configured (set SMTP_HOST for email, or Slack or "
                   f"Teams credentials), then give the lead or deputy an address in "
                   f"knowledge/schools/{school.slug}.yaml")
        out.append(f"{school.slug}: escalations cannot reach {school.lead.display} or {school.deputy.display}: "
                   f"{how}. Until then staff are told to go to them in person.")
    return out
