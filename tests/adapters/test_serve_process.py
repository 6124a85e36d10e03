"""`policybot serve` as a real process: binds the PORT it is given, logs one line per channel,
answers /healthz, and exits 0 on SIGTERM; a bad PORT stops it with a message naming PORT."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_healthz_logs_channels_and_exits_cleanly_on_sigterm():
    port = free_port()
    env = dict(os.environ, PORT=str(port), POLICYBOT_TODAY="2026-11-25")
    env.pop("POLICYBOT_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = None
        for _ in range(300):  # bounded polling; the assertion is on the answer, not the time
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = resp.read().decode()
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        assert body == '{"status": "ok"}', proc.stderr.read() if proc.poll() is not None else "no answer"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert "slack: off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN)" in lines
    assert "teams: off (set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or POLICYBOT_TEAMS_EMULATOR=1 for the Emulator)" in lines
    assert f"web chat: on at http://127.0.0.1:{port}/" in lines
    assert any(line.startswith("request ") and "path=/healthz status=200" in line for line in lines)
    assert "stopped" in lines


def test_serve_with_a_bad_port_stops_naming_the_variable():
    env = dict(os.environ, PORT="not-a-port")
    proc = subprocess.run([sys.executable, "-m", "adapters.cli", "serve"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "PORT='not-a-port' is not a whole number" in proc.stderr
