#!/usr/bin/env bash
# Static checks of the compose files, for machines without a Docker engine:
# Debian's docker-compose 1.29 parses and validates them, and dclint checks
# them against the current Compose spec and its best-practice rules; promtool
# checks the Prometheus configuration of the `observability` profile, and
# scripts/check-grafana.py its Grafana provisioning.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(docker-compose.yml docker-compose.kraft.yml)

missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v promtool >/dev/null || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for file in "${files[@]}"; do
  docker-compose -f "$file" config -q
  echo "docker-compose config: $file ok"
done

npx --yes dclint@3.1.0 --max-warnings 0 --color false "${files[@]}"
echo "dclint: ${files[*]} ok"

promtool check config observability/prometheus.yml
# Grafana cannot run here: its provisioning is checked statically (the
# dashboards parse, use the provisioned datasource, and query metrics the
# services export, in valid PromQL).
scripts/check-grafana.py
