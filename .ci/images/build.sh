#!/usr/bin/env bash
# Test fixtures for machines without access to an image registry, such as
# this project's CI: builds locally, under the names the project's
# Dockerfile and compose files use, every image they would otherwise pull.
#
#   debian:bookworm-slim           debootstrap --variant=minbase, imported
#   rust:1.95-slim-bookworm        that Debian + gcc, libc6-dev and this
#                                  machine's rustup toolchain (rust.Dockerfile)
#   apache/kafka:4.1.0             Apache Kafka's jars from Maven Central, as
#   confluentinc/cp-kafka:7.9.0    scripts/local-broker.sh fetches them, on
#   confluentinc/cp-zookeeper:7.9.0  Debian's Java 17 (kafka/Dockerfile)
#
# Where a registry is reachable none of this is needed: `docker compose up`
# pulls the real images. The stand-ins are not those images: they only
# honour what this project's compose files use of them.
#
# Each image is labelled with a digest of its inputs and rebuilt only when
# they change, so a second run takes seconds. Needs root (debootstrap), a
# running Docker engine, Java and Maven (for the Kafka fetch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
label=org.orders-pipeline.fixture-inputs
export DOCKER_BUILDKIT=0 # the classic builder: BuildKit would pull its own images

log() { printf '%s images: %s\n' "$(date +%T)" "$*" >&2; }

# docker build, quiet unless it fails.
build() {
  docker build "$@" >"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
}

# True when IMAGE exists and was built from inputs with digest KEY.
current() {
  [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$2" ]
}

digest() { sha256sum | cut -c1-16; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# debian:bookworm-slim ---------------------------------------------------
debian_key=$(echo "bookworm minbase $DEBIAN_MIRROR v1" | digest)
if current debian:bookworm-slim "$debian_key"; then
  log "debian:bookworm-slim is current"
else
  log "debian:bookworm-slim: debootstrap (about 30 s)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  # The suites the official image lists, so that apt sees security fixes.
  cat >"$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change "LABEL $label=$debian_key" \
    - debian:bookworm-slim >/dev/null
  rm -rf "$work/rootfs"
fi
debian_id=$(docker image inspect -f '{{.Id}}' debian:bookworm-slim)

# rust:1.95-slim-bookworm ----------------------------------------------------
sysroot=$(rustc --print sysroot)
rust_version=$(rustc --version | cut -d' ' -f2)
host=$(rustc -vV | sed -n 's/^host: //p')
toolchain=$rust_version-$host
rust_key=$( (echo "$debian_id $toolchain"; cat "$here/rust.Dockerfile" /etc/ssl/certs/ca-certificates.crt) | digest)
rust_tag=rust:${rust_version%.*}-slim-bookworm
if current "$rust_tag" "$rust_key"; then
  log "$rust_tag is current"
else
  log "$rust_tag: Debian + this machine's toolchain $toolchain"
  ctx=$work/rust
  mkdir -p "$ctx/rustup/toolchains/$toolchain" "$ctx/cargo/bin"
  # The documentation is most of a toolchain's size and no build reads it.
  tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$ctx/rustup/toolchains/$toolchain" -x
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
    "$toolchain" >"$ctx/rustup/settings.toml"
  cp "$(command -v rustup)" "$ctx/cargo/bin/rustup"
  for proxy in cargo rustc rustdoc rust-gdb rust-lldb rustfmt cargo-fmt cargo-clippy clippy-driver; do
    ln -s rustup "$ctx/cargo/bin/$proxy"
  done
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-bundle.crt"
  build -f "$here/rust.Dockerfile" --build-arg "RUST_VERSION=$rust_version" \
    --label "$label=$rust_key" -t "$rust_tag" "$ctx"
  rm -rf "$ctx"
fi

# Kafka ------------------------------------------------------------------------
kraft_libs=$(INSTALL_ONLY=1 "$repo/scripts/local-broker.sh")
zk_libs=$(ZOOKEEPER=1 INSTALL_ONLY=1 "$repo/scripts/local-broker.sh")
kafka_key=$( (echo "$debian_id"; ls "$kraft_libs" "$zk_libs"; cat "$here"/kafka/*) | digest)
targets=(apache-kafka=apache/kafka:4.1.0 cp-kafka=confluentinc/cp-kafka:7.9.0 cp-zookeeper=confluentinc/cp-zookeeper:7.9.0)
stale=0
for target in "${targets[@]}"; do current "${target#*=}" "$kafka_key" || stale=1; done
if ((stale)); then
  log "Kafka images: Apache Kafka 4.1.0, and 3.9.1 with ZooKeeper, on Debian's Java 17"
  ctx=$work/kafka
  cp -r "$here/kafka" "$ctx"
  cp -r "$kraft_libs" "$ctx/libs-4.1.0"
  cp -r "$zk_libs" "$ctx/libs-3.9.1"
  for target in "${targets[@]}"; do
    build --target "${target%%=*}" --label "$label=$kafka_key" -t "${target#*=}" "$ctx"
  done
  rm -rf "$ctx"
else
  log "Kafka images are current"
fi
log "ready: debian:bookworm-slim $rust_tag ${targets[*]#*=}"
