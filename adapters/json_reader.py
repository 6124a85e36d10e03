"""The one JSON reader for everything that arrives over the network or on a batch line.

Why: the standard library's parser recurses once per nesting level, so a body of 16,000 "["
(well under the size cap) raises RecursionError, which is not a ValueError and escaped every
handler as a 500. Here the nesting depth is measured first, with a linear scan that never
recurses, and anything deeper than MAX_DEPTH is refused as bad JSON; every string in the
result is passed through bot.text_input.clean_strings (no lone surrogates, no NUL).
"""
from __future__ import annotations

import json
import re

from bot.text_input import clean_strings

# Nothing policybot reads nests deeper than ~10 (a Teams activity's entities, a Slack block payload).
MAX_DEPTH = 64

# The only characters that matter for nesting: quotes, backslashes (inside strings) and brackets.
_TOKEN = re.compile(r'[\[\]{}"\\]')


class BadJSON(ValueError):
    """Not UTF-8, not JSON, or nested too deep; the message says which (never quotes the body)."""


def depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings: one pass over the interesting characters
    (linear whatever the input; a regex over whole strings backtracks quadratically on "\\\"...)."""
    deepest = level = 0
    in_string = escaped = False
    last = -2
    for match in _TOKEN.finditer(text):
        ch, at = match.group(), match.start()
        if in_string:
            if escaped:
                escaped = False
                if at == last + 1:  # this character is the escaped one
                    last = at
                    continue
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            last = at
            continue
        if ch == '"':
            in_string, escaped = True, False
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
        last = at
    return deepest


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> object:
    """The parsed value, strings cleaned. Raises BadJSON."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise BadJSON("the body is not UTF-8") from None
    if depth(data) > max_depth:
        raise BadJSON(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(data)
    except RecursionError:  # only reachable with a depth limit near the interpreter's own
        raise BadJSON(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise BadJSON(f"not JSON: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}") from None
    return clean_strings(value)
