#!/usr/bin/env bash
# Static checks of the compose files, for machines without a Docker engine:
# Debian's docker-compose 1.29 parses and validates them, and dclint checks
# them against the current Compose spec and its best-practice rules.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(docker-compose.yml docker-compose.kraft.yml)

if ! command -v docker-compose >/dev/null; then
  echo "installing docker-compose (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
for file in "${files[@]}"; do
  docker-compose -f "$file" config -q
  echo "docker-compose config: $file ok"
done

npx --yes dclint@3.1.0 --max-warnings 0 --color false "${files[@]}"
echo "dclint: ${files[*]} ok"
