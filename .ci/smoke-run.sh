#!/usr/bin/env bash
# `make run` must give a bot that answers GET /healthz within a minute or two on a fresh clone.
# Starts it in the background on a free port (PORT), polls /healthz for up to SMOKE_TIMEOUT
# seconds (default 120), prints the server's start-up lines, then stops the whole process
# group. Exit 1 if it never answers. Called by .ci/run after `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON_FOR_PORT=$(command -v python3 || command -v python)
PORT=${PORT:-$("$PYTHON_FOR_PORT" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export PORT
TIMEOUT=${SMOKE_TIMEOUT:-120}
LOG=$(mktemp -t policybot-smoke.XXXXXX)

# A new session makes the server its own process group, so make, policybot and anything they
# started are stopped together.
setsid make run >"$LOG" 2>&1 &
PGID=$!

stop_server() {
    if kill -0 -- "-$PGID" 2>/dev/null; then
        kill -TERM -- "-$PGID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$PGID" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap stop_server EXIT

healthy=""
for _ in $(seq 1 "$TIMEOUT"); do
    if body=$(curl -fsS --max-time 2 "http://127.0.0.1:${PORT}/healthz" 2>/dev/null); then
        healthy="$body"
        break
    fi
    kill -0 "$PGID" 2>/dev/null || break  # make run exited: no point waiting
    sleep 1
done

echo "smoke: make run output (start-up lines):"
sed 's/^/  | /' "$LOG"
if [ -z "$healthy" ]; then
    echo "smoke: FAILED: GET http://127.0.0.1:${PORT}/healthz never answered within ${TIMEOUT} s"
    exit 1
fi
echo "smoke: ok: GET /healthz -> $healthy"
