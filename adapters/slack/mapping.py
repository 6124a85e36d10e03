"""Workspace (and optionally channel) -> school slug, from SLACK_TEAM_SCHOOLS.

Why a mapping at all: one bot process can serve several schools, and a trust's academies may
share one workspace, so the channel can decide. An unmapped place gets None and a "not set
up" reply, never another school's clauses. The rules are shared with Teams (place_mapping).
"""
from __future__ import annotations

from pathlib import Path

from adapters import place_mapping
from adapters.place_mapping import PlaceMap as SchoolMap

__all__ = ["VARIABLE", "SchoolMap", "parse", "load"]

VARIABLE = "SLACK_TEAM_SCHOOLS"


def parse(raw: str) -> SchoolMap:
    """`T123=kingsmead,T456:C789=tsat`; a malformed entry is a ConfigError naming the variable."""
    return place_mapping.parse(raw, VARIABLE)


def load(raw: str, knowledge_dir: Path) -> SchoolMap:
    """Parse and check every slug exists, so a typo stops the start instead of 'not set up' replies."""
    return place_mapping.load(raw, VARIABLE, knowledge_dir)
