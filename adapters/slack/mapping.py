"""Workspace (and optionally channel) -> school slug, from SLACK_TEAM_SCHOOLS.

Why a mapping at all: one bot process can serve several schools, and a trust's academies may
share one workspace, so the channel can decide. An unmapped place gets None and a "not set
up" reply, never another school's clauses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.config import ConfigError

VARIABLE = "SLACK_TEAM_SCHOOLS"


@dataclass(frozen=True)
class SchoolMap:
    """Team-wide entries and team:channel entries; a channel entry wins over its team's."""

    teams: dict[str, str] = field(default_factory=dict)
    channels: dict[tuple[str, str], str] = field(default_factory=dict)

    def school_for(self, team: str | None, channel: str | None = None) -> str | None:
        if team and channel and (team, channel) in self.channels:
            return self.channels[(team, channel)]
        return self.teams.get(team or "")

    def slugs(self) -> set[str]:
        return set(self.teams.values()) | set(self.channels.values())


def parse(raw: str) -> SchoolMap:
    """`T123=kingsmead,T456:C789=tsat`; a malformed entry is a ConfigError naming the variable."""
    teams: dict[str, str] = {}
    channels: dict[tuple[str, str], str] = {}
    for entry in (e.strip() for e in raw.replace(";", ",").split(",")):
        if not entry:
            continue
        where, eq, slug = (p.strip() for p in entry.partition("="))
        team, _, channel = (p.strip() for p in where.partition(":"))
        if not eq or not team or not slug or (":" in where and not channel):
            raise ConfigError(f"{VARIABLE}: entry {entry!r} is not TEAM=school or TEAM:CHANNEL=school")
        if channel:
            channels[(team, channel)] = slug
        else:
            teams[team] = slug
    return SchoolMap(teams, channels)


def known_slugs(knowledge_dir: Path) -> set[str]:
    """School slugs in the knowledge base, read cheaply (the bot itself loads later, off the loop)."""
    slugs = set()
    for path in sorted((Path(knowledge_dir) / "schools").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        slugs.add(str(data.get("slug") or path.stem))
    return slugs


def load(raw: str, knowledge_dir: Path) -> SchoolMap:
    """Parse and check every slug exists, so a typo stops the start instead of 'not set up' replies."""
    mapping = parse(raw)
    unknown = sorted(mapping.slugs() - known_slugs(knowledge_dir))
    if unknown:
        raise ConfigError(f"{VARIABLE}: unknown school {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(sorted(known_slugs(knowledge_dir)))})")
    return mapping
