#!/usr/bin/env bash
# Fails when a file written by hand is longer than 300 lines: past that, a
# file usually holds more than one thing, and its name no longer says what
# is in it. Counts every file git tracks or would track (source, scripts,
# manifests, Markdown), except what a program writes or reads as data:
# Cargo.lock, BENCHMARKS.md (written by bench), images, and JSON (fixtures,
# schemas, the Grafana dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."

limit=300
status=0
while IFS= read -r -d '' file; do
  case $file in
    Cargo.lock | BENCHMARKS.md | *.svg | *.png | *.json) continue ;;
  esac
  [ -f "$file" ] || continue
  lines=$(wc -l <"$file")
  if [ "$lines" -gt "$limit" ]; then
    echo "$file: $lines lines (at most $limit)"
    status=1
  fi
done < <(git ls-files -z --cached --others --exclude-standard)
[ "$status" -ne 0 ] || echo "no file over $limit lines"
exit "$status"
