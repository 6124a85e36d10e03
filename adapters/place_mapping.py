"""Where a chat message comes from -> which school answers it, from one environment variable.

Why: one bot process serves several schools, and a trust's academies may share one Slack
workspace or Microsoft 365 tenant, so a channel (or team) can decide. A place nobody mapped
gets None, and the adapter replies "not set up": never another school's clauses.

An entry is `ORG=school` (a workspace or tenant) or `ORG:PLACE=school` (a channel or team in
it). Only the first ':' splits, because Teams ids contain colons ("19:abc@thread.tacv2").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.config import ConfigError

WILDCARD = "*"


@dataclass(frozen=True)
class PlaceMap:
    """Organisation-wide entries and (organisation, place) entries; a place entry wins."""

    orgs: dict[str, str] = field(default_factory=dict)
    places: dict[tuple[str, str], str] = field(default_factory=dict)

    def school_for(self, org: str | None, *places: str | None) -> str | None:
        """The most specific match: the first of `places` mapped under `org`, else `org` itself,
        else the wildcard entry (allowed only where the adapter says so)."""
        for place in places:
            if org is not None and place and (org, place) in self.places:
                return self.places[(org, place)]
        if org and org in self.orgs:
            return self.orgs[org]
        return self.orgs.get(WILDCARD)

    def slugs(self) -> set[str]:
        return set(self.orgs.values()) | set(self.places.values())

    def places_in(self, org: str | None) -> list[tuple[str, str | None]]:
        """Every (school, place) `org` maps to: its organisation-wide entry (place None) first,
        then its place entries by place id. Empty: the organisation is not set up."""
        out: list[tuple[str, str | None]] = []
        if org and org in self.orgs:
            out.append((self.orgs[org], None))
        out += [(slug, place) for (o, place), slug in sorted(self.places.items()) if o == org]
        return out



def parse(raw: str, variable: str, *, allow_wildcard: bool = False) -> PlaceMap:
    """A malformed entry is a ConfigError naming the variable and the entry."""
    orgs: dict[str, str] = {}
    places: dict[tuple[str, str], str] = {}
    for entry in (e.strip() for e in raw.replace(";", ",").split(",")):
        if not entry:
            continue
        where, eq, slug = (p.strip() for p in entry.rpartition("=")) if "=" in entry else (entry, "", "")
        org, colon, place = (p.strip() for p in where.partition(":"))
        if not eq or not org or not slug or (colon and not place):
            raise ConfigError(f"{variable}: entry {entry!r} is not ORG=school or ORG:PLACE=school")
        if org == WILDCARD and (place or not allow_wildcard):
            raise ConfigError(f"{variable}: entry {entry!r}: '*' is only allowed on its own, in emulator mode")
        if place:
            places[(org, place)] = slug
        else:
            orgs[org] = slug
    return PlaceMap(orgs, places)


def known_slugs(knowledge_dir: Path) -> set[str]:
    """School slugs in the knowledge base, read cheaply (the bot itself loads later, off the loop)."""
    slugs = set()
    for path in sorted((Path(knowledge_dir) / "schools").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        slugs.add(str(data.get("slug") or path.stem))
    return slugs


def load(raw: str, variable: str, knowledge_dir: Path, *, allow_wildcard: bool = False) -> PlaceMap:
    """Parse and check every slug exists, so a typo stops the start instead of 'not set up' replies."""
    mapping = parse(raw, variable, allow_wildcard=allow_wildcard)
    known = known_slugs(knowledge_dir)
    unknown = sorted(mapping.slugs() - known)
    if unknown:
        raise ConfigError(f"{variable}: unknown school {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(sorted(known))})")
    return mapping
