#!/usr/bin/env bash
# Supply-chain checks of the dependency tree with cargo-deny (rules in
# deny.toml): licenses, banned or duplicated crates, and sources. The first
# run installs cargo-deny into a cache outside the checkout (~6 min on 2 cores).
#
# Advisories (`cargo deny check advisories`) need the RustSec database from
# GitHub; run this script with CHECK_ADVISORIES=1 where it can be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.18.3
cache=${DENY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/cargo-deny}
deny=$cache/bin/cargo-deny

if ! "$deny" --version 2>/dev/null | grep -q "$DENY_VERSION"; then
  echo "installing cargo-deny $DENY_VERSION into $cache (once)" >&2
  cargo install cargo-deny --version "$DENY_VERSION" --locked --root "$cache" >&2
fi

checks=(licenses bans sources)
if [ -n "${CHECK_ADVISORIES:-}" ]; then
  checks+=(advisories)
fi
"$deny" --manifest-path "$PWD/Cargo.toml" check --hide-inclusion-graph "${checks[@]}"
