"""The Teams app package: a zip of manifest.json, color.png and outline.png to upload to Teams.

Why generated rather than checked in: the manifest must carry this deployment's bot id
(MICROSOFT_APP_ID) and host, and a hand-edited copy drifts from the schema. Everything here is
the standard library (zipfile, zlib, struct): the icons are drawn in Python (a shield with a
tick) so a fresh checkout can build a package with no image tools. `policybot teams-package`
(adapters/cli/) is the front end; the manifest targets MANIFEST_VERSION, the newest published
in OfficeDev/microsoft-teams-app-schema (tests validate it against that schema).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Mapping

MANIFEST_VERSION = "1.29"
MANIFEST_SCHEMA = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
APP_ID_ENV = "MICROSOFT_APP_ID"
DEFAULT_OUT = "policybot-teams.zip"
PLACEHOLDER_SITE = "https://policybot.example.org"

ACCENT = (0x1F, 0x5C, 0x99)  # the color icon's background and the manifest's accentColor
COLOR_SIZE, OUTLINE_SIZE = 192, 32  # what Teams requires of the two icons

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*(?::\d{1,5})?$")

# Shown in Teams' command menu; choosing one sends it as a question. Each is answered from the
# bundled policies (tests ask them of every bundled school).
EXAMPLE_QUESTIONS = (
    ("can I accept a friend request from a parent?", "Contact with parents on social media"),
    ("a pupil has followed me on Instagram, what should I do?", "Contact with pupils online"),
    ("can I post photos of my class on my own Instagram?", "Photos of pupils on personal accounts"),
)


class PackageError(ValueError):
    """A package that cannot be built as asked; the message says what to set or pass."""


def _default_version() -> str:
    try:
        return metadata.version("policybot")
    except metadata.PackageNotFoundError:
        return "1.0.0"


@dataclass(frozen=True)
class PackageOptions:
    """What varies between deployments. `host`: the bot's public host name (e.g.
    policybot.school.org), listed in validDomains and used for the developer links when
    those are not given."""

    app_id: str
    name: str = "policybot"
    full_name: str = "policybot: your school's online-safety policy"
    version: str = field(default_factory=_default_version)
    developer: str = "policybot"
    host: str = ""
    website_url: str = ""
    privacy_url: str = ""
    terms_url: str = ""

    def site(self) -> str:
        return f"https://{self.host}" if self.host else PLACEHOLDER_SITE

    def urls(self) -> tuple[str, str, str]:
        """(website, privacy, terms): as given; the website defaults to the bot's host (or the
        placeholder), and privacy and terms to the website, never to pages that do not exist."""
        website = self.website_url or f"{self.site()}/"
        return website, self.privacy_url or website, self.terms_url or website

    def defaulted(self) -> list[str]:
        """The developer links not given explicitly (the About page shows them to staff)."""
        given = (self.website_url, self.privacy_url, self.terms_url)
        return [flag for flag, value in zip(("--website-url", "--privacy-url", "--terms-url"), given) if not value]


def resolve_app_id(explicit: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The bot's Microsoft App ID: `--app-id`, else MICROSOFT_APP_ID; refused unless a GUID."""
    app_id = (explicit or env.get(APP_ID_ENV, "")).strip()
    if not app_id:
        raise PackageError(f"no bot app id: set {APP_ID_ENV} to the Azure Bot's Microsoft App ID "
                           "(a GUID, under the bot resource's Configuration) or pass --app-id")
    if not _GUID.match(app_id):
        raise PackageError(f"app id {app_id!r} is not a GUID like 00000000-0000-0000-0000-000000000000; "
                           f"use the Microsoft App ID from the Azure Bot's Configuration page")
    return app_id.lower()


def _check(options: PackageOptions) -> None:
    """The manifest schema's limits, as errors naming the option rather than a schema path."""
    if not _GUID.match(options.app_id):
        raise PackageError(f"app id {options.app_id!r} is not a GUID")
    if not 1 <= len(options.name) <= 30:
        raise PackageError("--name must be 1 to 30 characters (Teams' short app name)")
    if len(options.full_name) > 100:
        raise PackageError("the full app name must be at most 100 characters")
    if not 1 <= len(options.developer) <= 32:
        raise PackageError("--developer must be 1 to 32 characters")
    if options.host and not _HOST.match(options.host):
        raise PackageError(f"--host {options.host!r} is not a host name (give e.g. policybot.school.org, "
                           "without https:// or a path)")
    for flag, url in zip(("--website-url", "--privacy-url", "--terms-url"), options.urls()):
        if not url.startswith("https://"):
            raise PackageError(f"{flag} must be an https:// URL (Teams refuses others)")
    if not re.match(r"^\d+\.\d+\.\d+", options.version):
        raise PackageError(f"app version {options.version!r} is not semver (e.g. 1.0.0)")


def manifest(options: PackageOptions) -> dict:
    """manifest.json for a conversational bot in personal chat, team channels and group chats."""
    _check(options)
    website, privacy, terms = options.urls()
    scopes = ["personal", "team", "groupChat"]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": options.version,
        "id": options.app_id,
        "developer": {"name": options.developer, "websiteUrl": website, "privacyUrl": privacy,
                      "termsOfUseUrl": terms},
        "name": {"short": options.name, "full": options.full_name},
        "description": {
            "short": "Answers staff questions from your school's online-safety policy.",
            "full": ("Ask about your school's social-media and online-safety policy in your own words, "
                     "e.g. \"can I accept a friend request from a parent?\". The bot quotes your school's "
                     "own clauses verbatim, with section numbers and what they require, and says when a "
                     "policy is past its review date. A question it cannot answer with confidence goes to "
                     "your school's named online-safety lead, whose answer comes back here. A question "
                     "about a live safeguarding concern is never answered from policy: you are told to "
                     "speak to the designated safeguarding lead in person, and the lead and deputy are "
                     "told at once."),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{
            "botId": options.app_id,
            "scopes": scopes,
            "supportsFiles": False,
            "isNotificationOnly": False,
            "commandLists": [{"scopes": scopes,
                              "commands": [{"title": q, "description": d} for q, d in EXAMPLE_QUESTIONS]}],
        }],
        "validDomains": [options.host] if options.host else [],
    }


# --- icons -------------------------------------------------------------------------------

def png(width: int, height: int, rows: list[bytes], alpha: bool) -> bytes:
    """A PNG from raw rows (RGB or RGBA, 8 bits a channel), each row with filter type 0."""
    channels = 4 if alpha else 3
    if len(rows) != height or any(len(r) != width * channels for r in rows):
        raise ValueError("rows do not match the image size")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


# A heater shield in unit coordinates (y down): flat top with rounded corners, straight sides
# to the shoulder, then sides curving in to a point.
_CX, _TOP, _BOTTOM, _SHOULDER, _HALF, _CORNER = 0.5, 0.10, 0.93, 0.47, 0.36, 0.07
_TICK = ((0.345, 0.50), (0.455, 0.615), (0.665, 0.37))


def _in_shield(x: float, y: float) -> bool:
    if y < _TOP or y > _BOTTOM:
        return False
    dx = abs(x - _CX)
    if y <= _SHOULDER:
        half = _HALF
    else:
        t = (y - _SHOULDER) / (_BOTTOM - _SHOULDER)
        half = _HALF * (1 - t * t)
    if dx > half:
        return False
    if y < _TOP + _CORNER and dx > _HALF - _CORNER:  # rounded top corners
        return math.hypot(dx - (_HALF - _CORNER), y - (_TOP + _CORNER)) <= _CORNER
    return True


def _near_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float], r: float) -> bool:
    (ax, ay), (bx, by) = a, b
    vx, vy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)))
    return math.hypot(x - ax - t * vx, y - ay - t * vy) <= r


def _in_tick(x: float, y: float, r: float) -> bool:
    return _near_segment(x, y, _TICK[0], _TICK[1], r) or _near_segment(x, y, _TICK[1], _TICK[2], r)


def _in_shield_edge(x: float, y: float, width: float) -> bool:
    """Inside the shield but within `width` of its outside (an outline of even thickness)."""
    if not _in_shield(x, y):
        return False
    return any(not _in_shield(x + width * math.cos(a), y + width * math.sin(a))
               for a in (k * math.pi / 8 for k in range(16)))


def _coverage(size: int, inside: Callable[[float, float], bool], samples: int) -> list[list[float]]:
    """Per pixel, the share of samples x samples points inside the shape (anti-aliasing)."""
    step = 1.0 / (size * samples)
    offsets = [(i + 0.5) * step for i in range(samples)]
    out = []
    for py in range(size):
        row = []
        for px in range(size):
            x0, y0 = px / size, py / size
            hits = sum(inside(x0 + ox, y0 + oy) for oy in offsets for ox in offsets)
            row.append(hits / (samples * samples))
        out.append(row)
    return out


@lru_cache(maxsize=1)
def color_icon() -> bytes:
    """192x192 full colour: a white shield with a tick in the accent colour, on the accent colour."""
    shield = _coverage(COLOR_SIZE, _in_shield, 3)
    tick = _coverage(COLOR_SIZE, lambda x, y: _in_tick(x, y, 0.045), 3)
    rows = []
    for srow, trow in zip(shield, tick):
        row = bytearray()
        for s, t in zip(srow, trow):
            white = s * (1 - t)  # the tick is cut out of the shield, showing the accent through
            row += bytes(round(c + (255 - c) * white) for c in ACCENT)
        rows.append(bytes(row))
    return png(COLOR_SIZE, COLOR_SIZE, rows, alpha=False)


@lru_cache(maxsize=1)
def outline_icon() -> bytes:
    """32x32 white on transparent, as Teams requires: the shield's outline with the tick inside."""
    edge = _coverage(OUTLINE_SIZE, lambda x, y: _in_shield_edge(x, y, 0.075), 4)
    tick = _coverage(OUTLINE_SIZE, lambda x, y: _in_tick(x, y, 0.05), 4)
    rows = []
    for erow, trow in zip(edge, tick):
        row = bytearray()
        for e, t in zip(erow, trow):
            row += bytes((255, 255, 255, round(255 * max(e, t))))
        rows.append(bytes(row))
    return png(OUTLINE_SIZE, OUTLINE_SIZE, rows, alpha=True)


# --- the zip -----------------------------------------------------------------------------

def build_package(options: PackageOptions) -> bytes:
    """The zip Teams takes: manifest.json, color.png, outline.png at its root. Entries carry a
    fixed date, so the same options give the same bytes (a rebuild is not a new upload)."""
    files = {"manifest.json": json.dumps(manifest(options), indent=2, ensure_ascii=False).encode("utf-8") + b"\n",
             "color.png": color_icon(), "outline.png": outline_icon()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_package(path: str | os.PathLike, options: PackageOptions) -> Path:
    target = Path(path)
    data = build_package(options)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def next_steps(path: Path, options: PackageOptions) -> str:
    endpoint = f"https://{options.host}/api/messages" if options.host else "https://<your host>/api/messages"
    lines = [
        f"wrote {path} (Teams app manifest v{MANIFEST_VERSION}, bot {options.app_id}, version {options.version})",
        "next:",
        f"  1. Azure Bot resource > Configuration: messaging endpoint {endpoint}; Channels: add Microsoft Teams.",
        "  2. Run `policybot serve` with MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD (MICROSOFT_APP_TENANT_ID and "
        "MICROSOFT_APP_TYPE for a single-tenant bot) and TEAMS_TENANT_SCHOOLS set.",
        "  3. Upload the zip: Teams admin center > Teams apps > Manage apps > Upload new app (whole school), "
        "or in Teams: Apps > Manage your apps > Upload an app (just you, to try it).",
        f"  4. Open {options.name} in Teams and ask, e.g. \"{EXAMPLE_QUESTIONS[0][0]}\"",
        "  Changed something? Pass a higher --app-version before uploading the package again.",
    ]
    missing = options.defaulted()
    if missing:
        lines.append(f"note: {', '.join(missing)} not given, so the app's About page links to {options.urls()[0]}; "
                     "pass your school's own pages (e.g. its privacy notice) before rolling out to staff.")
    return "\n".join(lines)


def run(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """`policybot teams-package`: build the zip, print where it is and what to do next."""
    try:
        options = PackageOptions(
            app_id=resolve_app_id(args.app_id, env), name=args.name, developer=args.developer,
            host=(args.host or "").strip(), website_url=args.website_url or "", privacy_url=args.privacy_url or "",
            terms_url=args.terms_url or "", **({"version": args.app_version} if args.app_version else {}))
        path = write_package(args.out, options)
    except PackageError as exc:
        print(f"policybot teams-package: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"policybot teams-package: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    print(next_steps(path, options))
    return 0
