"""The one sanitiser for text that arrives from outside (a chat message, a web request, a batch
line) before it reaches the tokenizer or a store.

Why: JSON may carry a lone UTF-16 surrogate ("\\ud800"), which Python keeps in a str but which
no UTF-8 encoder accepts: the tokenizer raises TypeError and SQLite raises UnicodeEncodeError.
NUL cuts C strings short. Both are replaced here, once, so nothing downstream has to care.
"""
from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# Lone (unpaired) surrogates; a valid pair never appears in a Python str decoded from UTF-8/JSON.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every lone surrogate and NUL replaced by U+FFFD, so it always encodes as UTF-8.
    (The question check counts U+FFFD as binary junk, so a question made of it is refused.)"""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    text = _SURROGATE.sub(REPLACEMENT, text)
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def clean_strings(value: object) -> object:
    """A parsed JSON value with clean_text applied to every string in it (keys too). The caller
    bounds the depth (adapters/json_reader.py does), so the recursion is bounded."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    return value
