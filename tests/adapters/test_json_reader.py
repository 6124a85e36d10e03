"""The one JSON reader: depth measured without recursion (and agreeing with the real depth),
deep input refused as bad JSON, strings sanitised; and the escaping log formatter."""
from __future__ import annotations

import json
import logging
import time

import pytest
from hypothesis import given, strategies as st

from adapters.json_reader import BadJSON, depth, loads
from adapters.log_format import SafeFormatter, escape, path_field

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(st.characters(blacklist_categories=()), max_size=20),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=30)


def real_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    return 0


@given(value=JSON)
def test_depth_scan_agrees_with_the_real_depth(value):
    assert depth(json.dumps(value)) == real_depth(value)
    assert depth(json.dumps(value, ensure_ascii=False)) == real_depth(value)


def test_deep_input_is_bad_json_and_strings_are_clean():
    with pytest.raises(BadJSON, match="nested deeper than 64"):
        loads("[" * 16_000 + "]" * 16_000)
    assert loads(b'{"q": "a\\ud800b\\u0000c"}') == {"q": "a\ufffdb\ufffdc"}
    with pytest.raises(BadJSON, match="not UTF-8"):
        loads(b"\xff{}")


def test_the_scan_is_linear_on_strings_of_escapes():
    for body in ('"' + '\\"' * 120_000, '"\\' * 120_000, "[" * 200_000):
        started = time.perf_counter()
        with pytest.raises(BadJSON):
            loads(body)
        assert time.perf_counter() - started < 1.0


def test_log_formatter_writes_one_escaped_line():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "path=%s note=%s", (
        path_field("/api/escalations/x\nescalation E1 answered by Ms Lead"), "a\x00b\x1b[2J\u202ec\\"), None)
    line = SafeFormatter("%(message)s").format(record)
    assert "\n" not in line and "\x00" not in line and "\x1b" not in line and "\u202e" not in line
    assert "path=/api/escalations/x%0Aescalation%20E1%20answered%20by%20Ms%20Lead" in line
    assert line.endswith("a\\x00b\\x1b[2J\\u202ec\\\\")
    assert escape("plain text") == "plain text"
