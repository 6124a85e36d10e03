"""The one log formatter: whatever it writes is a single line of printable text.

Why: the log is the escalation workflow's last-resort notifier, and request paths, ids and
exception messages come from outside. A path like `/api/escalations/x%0Aescalation ... answered
by ...` decodes to a newline and would forge a second log line; NUL and terminal escape
sequences (ESC [ ...) would be written raw to whoever tails the log. Here every control
character (C0, DEL, C1), line or paragraph separator, bidirectional override and lone surrogate
is written as a visible escape (\\n, \\x1b, \\u202e), and a backslash as \\\\, so an escaped
line cannot be mistaken for a raw one. Tracebacks keep their line breaks, each line escaped.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import quote

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """One printable line: control and look-alike characters as visible escapes."""
    return _UNSAFE.sub(_escape_char, text)


# What a request path may show as itself in a log field; everything else (spaces, newlines,
# quotes, =, non-ASCII) is percent-encoded, so a path cannot look like more key=value fields.
_PATH_SAFE = "/:@!$&'()*+,;-._~"


def path_field(path: str) -> str:
    """A decoded request path as one token, percent-encoded where it is not plain."""
    return quote(path, safe=_PATH_SAFE, errors="backslashreplace")


def field(value: object, limit: int = 200) -> str:
    """Any outside value (an id, a name) as one token: escaped, spaces as %20, cut at `limit`."""
    text = escape(str(value)).replace(" ", "%20").replace("=", "%3D")
    return text if len(text) <= limit else text[:limit] + "..."


class SafeFormatter(logging.Formatter):
    """logging.Formatter whose message is escaped to one line; an exception's traceback follows
    on its own lines, each of them escaped."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args, record.exc_text
        try:
            record.msg, record.args = escape(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = "\n".join(escape(line) for line in record.exc_text.split("\n"))
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved
