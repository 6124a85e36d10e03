"""The Channel type every channel returns, in a module of its own: the server mounts channels and
each channel (slack/, teams/, the web chat) builds one, so both import it from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from aiohttp import web


@dataclass(frozen=True)
class Channel:
    """A way in for staff. `mount` is None when the channel is off; `off_because` then names
    the environment variables that would turn it on. `where` completes the "on" line."""

    name: str
    mount: Callable[[web.Application], None] | None
    off_because: str = ""
    where: str = ""

    def status_line(self, base_url: str) -> str:
        if self.mount is None:
            return f"{self.name}: off ({self.off_because})"
        return f"{self.name}: on at {base_url}{self.where}"
