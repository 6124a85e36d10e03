"""The knowledge files' stamps (polled by the server) and version (what is serving): editor
files are ignored, a touch changes the stamps but not the version, an edit changes both."""
from __future__ import annotations

import os
import time

from bot.knowledge import stamps
from tests.conftest import write

POLICY_FILE = "policies/alpha/social-media.yaml"


def test_stamps_and_version_ignore_editor_files_and_touch(tiny_kb):
    before_stamps, before_version = stamps.stamps(tiny_kb), stamps.version(tiny_kb)
    write(tiny_kb, "policies/alpha/.social-media.yaml.swp", "junk")
    write(tiny_kb, "policies/alpha/social-media.yaml~", "junk")
    assert stamps.stamps(tiny_kb) == before_stamps
    path = tiny_kb / POLICY_FILE
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert stamps.stamps(tiny_kb) != before_stamps and stamps.version(tiny_kb) == before_version
    path.write_text(path.read_text() + "\n# a comment\n")
    assert stamps.version(tiny_kb) != before_version
