#!/usr/bin/env bash
# docker-compose.yml cannot run here (no container engine): check it the way Compose reads it,
# for `make compose-up` (the default profile) and the whole stack (--profile stack).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif command -v podman-compose >/dev/null; then
  compose=(podman-compose)
else
  echo "neither docker-compose nor podman-compose is installed" >&2
  exit 1
fi
CREDENTIALS_KEY=compose-config-check "${compose[@]}" -f docker-compose.yml config -q
CREDENTIALS_KEY=compose-config-check "${compose[@]}" -f docker-compose.yml --profile stack config -q
echo "docker-compose.yml: valid ($("${compose[@]}" -f docker-compose.yml --profile stack config --services | wc -l) services)"
