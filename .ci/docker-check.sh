#!/usr/bin/env bash
# Optional CI step: builds the image, starts compose.yaml (policybot + PostgreSQL) and waits until
# policybot's healthcheck (GET /readyz) passes, then checks /readyz names a ready bot. Skips, with
# the reason printed and exit 0, wherever it cannot run: no docker command, no daemon, no compose
# plugin, or the base images neither present nor pullable. A build or health failure fails.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "docker check: skipped ($1)"; exit 0; }
command -v docker >/dev/null 2>&1 || skip "no docker command on this machine"
timeout 20 docker info >/dev/null 2>&1 || skip "no Docker daemon reachable"
timeout 20 docker compose version >/dev/null 2>&1 || skip "the docker compose plugin is not installed"
for image in python:3.11-slim postgres:16-alpine; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || timeout 300 docker pull -q "$image" >/dev/null 2>&1 \
    || skip "base image $image is not here and cannot be pulled"
done

project="policybot-ci-$$"
compose() { docker compose -p "$project" "$@"; }
trap 'compose down -v --remove-orphans >/dev/null 2>&1 || true' EXIT

compose build
POLICYBOT_PUBLISH=127.0.0.1:0 compose up -d
container="$(compose ps -q policybot)"
state=starting
for _ in $(seq 1 80); do
  state="$(docker inspect -f '{{.State.Health.Status}}' "$container")"
  [ "$state" = healthy ] && break
  [ "$state" = unhealthy ] && break
  sleep 3
done
if [ "$state" != healthy ]; then
  compose logs --no-color policybot | tail -50
  echo "docker check: policybot is $state, not healthy" >&2
  exit 1
fi
compose exec -T policybot python -c "
import json, urllib.request
body = json.load(urllib.request.urlopen('http://127.0.0.1:3978/readyz', timeout=5))
assert body['ready'] is True and body['schools'] >= 1, body
print('readyz:', body)
"
compose exec -T policybot sh -c 'test "$(id -u)" != 0' || { echo "docker check: the server runs as root" >&2; exit 1; }
echo "docker check: image built; policybot healthy beside PostgreSQL, as a non-root user"
