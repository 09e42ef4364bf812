#!/usr/bin/env bash
# Test fixtures for machines without access to an image registry, such as
# this project's CI: builds locally, under the names the project's
# Dockerfile and compose files use, the images they would otherwise pull.
#
#   debian:<DEBIAN_RELEASE>-slim      debootstrap --variant=minbase, imported
#   rust:<RUST_VERSION>-slim-<DEBIAN_RELEASE>
#                                     that Debian + gcc, libc6-dev and this
#                                     machine's rustup toolchain of the
#                                     Dockerfile's RUST_VERSION (rust.Dockerfile)
#   apache/kafka:4.1.0                Apache Kafka's jars from Maven Central
#   confluentinc/cp-kafka:7.9.0       (4.1.0; 3.9.0, the Kafka Confluent 7.9.0
#   confluentinc/cp-zookeeper:7.9.0   ships), as scripts/local-broker.sh
#                                     fetches them, on Debian's Java 17, with
#                                     entry points that check and translate
#                                     the environment as the real images do
#                                     (kafka/Dockerfile)
#   prom/prometheus:<compose's tag>   Debian's prometheus (prometheus.Dockerfile)
#
# RUST_VERSION and DEBIAN_RELEASE are the Dockerfile's ARG defaults. Grafana
# and Kafka UI cannot be built here; every other image a compose file names
# must be one of the above, or this fails.
#
# Where a registry is reachable none of this is needed: `docker compose up`
# pulls the real images. Each image built here is labelled with a digest of
# its inputs and rebuilt only when they change, so a second run takes
# seconds. An image of one of these names WITHOUT that label was not built
# here (the real one, pulled on a developer's machine): it is left alone and
# used as it is, never replaced by a stand-in.
#
# Needs root (debootstrap), a running Docker engine, Java and Maven (for the
# Kafka fetch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
label=org.orders-pipeline.fixture-inputs
export DOCKER_BUILDKIT=0 # the classic builder: BuildKit would pull its own images

log() { printf '%s images: %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# docker build, quiet unless it fails.
build() {
  docker build "$@" >"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
}

digest() { sha256sum | cut -c1-16; }

# needs_build IMAGE KEY: whether IMAGE is to be built (again) from inputs
# with digest KEY. Not when it was built from them already, nor when it
# exists without this script's label: then someone else made it, most likely
# the real image from a registry, and a stand-in must not replace it.
ready=()
needs_build() {
  if foreign "$1"; then
    use_as_is "$1"
    return 1
  fi
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$2" ]; then
    log "$1 is current"
    ready+=("$1 (stand-in)")
    return 1
  fi
  return 0
}

use_as_is() {
  log "$1 exists and was not built here (no $label label): using it as it is"
  ready+=("$1 (not built here)")
}

# foreign IMAGE: it exists and has no label of this script.
foreign() {
  local found
  found=$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null) || return 1
  [ -z "$found" ] || [ "$found" = "<no value>" ]
}

# What the Dockerfile and the compose files ask for ------------------------------
dockerfile_arg() {
  awk -v arg="$1" '$1 == "ARG" && index($2, arg "=") == 1 { print substr($2, length(arg) + 2); exit }' "$repo/Dockerfile"
}
rust_version=$(dockerfile_arg RUST_VERSION)
debian_release=$(dockerfile_arg DEBIAN_RELEASE)
if [ -z "$rust_version" ] || [ -z "$debian_release" ]; then
  die "Dockerfile: no ARG RUST_VERSION=... or ARG DEBIAN_RELEASE=... default to build for"
fi
# The Kafka and Prometheus stand-ins install bookworm's Java 17 and
# Prometheus; another release needs them reconsidered, not just renamed.
[ "$debian_release" = bookworm ] ||
  die "Dockerfile: DEBIAN_RELEASE=$debian_release; the stand-ins here are made for bookworm"

kafka_targets=(apache-kafka=apache/kafka:4.1.0 cp-kafka=confluentinc/cp-kafka:7.9.0 cp-zookeeper=confluentinc/cp-zookeeper:7.9.0)
compose_images=$(sed -n 's/^[[:space:]]*image:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$repo"/docker-compose*.yml | sort -u)
prometheus_tag=$(grep '^prom/prometheus:' <<<"$compose_images" || true)
[ "$(wc -w <<<"$prometheus_tag")" = 1 ] ||
  die "compose files: expected one prom/prometheus image, found: ${prometheus_tag:-none}"
for image in $compose_images; do
  case " ${kafka_targets[*]#*=} $prometheus_tag " in
    *" $image "*) continue ;;
  esac
  case $image in
    grafana/grafana:* | ghcr.io/kafbat/kafka-ui:*) ;; # cannot be built here; CI does not run them
    *) die "compose files name $image, which this script has no stand-in for" ;;
  esac
done

# debian:<release>-slim -----------------------------------------------------
debian_tag=debian:$debian_release-slim
debian_key=$(echo "$debian_release minbase $DEBIAN_MIRROR v1" | digest)
if needs_build "$debian_tag" "$debian_key"; then
  log "$debian_tag: debootstrap (about 30 s)"
  debootstrap --variant=minbase "$debian_release" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  # The suites the official image lists, so that apt sees security fixes.
  cat >"$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR $debian_release main
deb $DEBIAN_MIRROR $debian_release-updates main
deb http://deb.debian.org/debian-security $debian_release-security main
SOURCES
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change "LABEL $label=$debian_key" \
    - "$debian_tag" >/dev/null
  rm -rf "$work/rootfs"
  ready+=("$debian_tag (stand-in, built)")
fi
debian_id=$(docker image inspect -f '{{.Id}}' "$debian_tag")

# rust:<RUST_VERSION>-slim-<release> -------------------------------------------
# The toolchain is this machine's: the default one if it is of RUST_VERSION
# (1.95 takes any 1.95.x, 1.95.0 only itself), else another installed one.
rust_tag=rust:$rust_version-slim-$debian_release
# Its key needs a toolchain of RUST_VERSION, which a machine with the real
# image need not have: that case first.
if foreign "$rust_tag"; then
  use_as_is "$rust_tag"
else
  toolchain_name=""
  toolchains=$(rustup toolchain list | awk '{print ($0 ~ /default/ ? 0 : 1), $1}' | sort | cut -d' ' -f2)
  for candidate in $toolchains; do
    version=$(rustup run "$candidate" rustc --version | cut -d' ' -f2)
    if [ "$version" = "$rust_version" ] || [[ $version == "$rust_version".* && $version != *-* ]]; then
      toolchain_name=$candidate
      break
    fi
  done
  [ -n "$toolchain_name" ] ||
    die "the Dockerfile builds with Rust $rust_version (ARG RUST_VERSION); no toolchain of this machine is that version ($(tr '\n' ' ' <<<"$toolchains")): rustup toolchain install $rust_version"
  sysroot=$(rustup run "$toolchain_name" rustc --print sysroot)
  host=$(rustup run "$toolchain_name" rustc -vV | sed -n 's/^host: //p')
  toolchain=$version-$host
  rust_key=$( (echo "$debian_id $toolchain"; cat "$here/rust.Dockerfile" /etc/ssl/certs/ca-certificates.crt) | digest)
  if needs_build "$rust_tag" "$rust_key"; then
    log "$rust_tag: Debian + this machine's toolchain $toolchain (rustup's $toolchain_name)"
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
    build -f "$here/rust.Dockerfile" --build-arg "RUST_VERSION=$version" \
      --label "$label=$rust_key" -t "$rust_tag" "$ctx"
    rm -rf "$ctx"
    ready+=("$rust_tag (stand-in, built)")
  fi
fi

# Kafka --------------------------------------------------------------------------
kraft_libs=$(INSTALL_ONLY=1 "$repo/scripts/local-broker.sh")
# The Kafka inside confluentinc/cp-kafka:7.9.0 (7.9.0-ccs) is 3.9.0.
cp_libs=$(ZOOKEEPER=1 ZK_KAFKA_VERSION=3.9.0 INSTALL_ONLY=1 "$repo/scripts/local-broker.sh")
kafka_key=$(
  {
    echo "$debian_id"
    ls "$kraft_libs" "$cp_libs"
    # Contents, names and modes of the context (the scripts must stay executable).
    tar -C "$here" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c kafka
  } | digest
)
stale=()
for target in "${kafka_targets[@]}"; do
  if needs_build "${target#*=}" "$kafka_key"; then stale+=("$target"); fi
done
if ((${#stale[@]})); then
  log "Kafka images ${stale[*]#*=}: Apache Kafka 4.1.0, and 3.9.0 with ZooKeeper, on Debian's Java 17"
  ctx=$work/kafka
  cp -r "$here/kafka" "$ctx"
  cp -r "$kraft_libs" "$ctx/libs-4.1.0"
  cp -r "$cp_libs" "$ctx/libs-3.9.0"
  for target in "${stale[@]}"; do
    build --target "${target%%=*}" --label "$label=$kafka_key" -t "${target#*=}" "$ctx"
    ready+=("${target#*=} (stand-in, built)")
  done
  rm -rf "$ctx"
fi

# Prometheus ----------------------------------------------------------------------
prometheus_key=$( (echo "$debian_id"; cat "$here/prometheus.Dockerfile") | digest)
if needs_build "$prometheus_tag" "$prometheus_key"; then
  log "$prometheus_tag: Debian's prometheus"
  mkdir -p "$work/prometheus"
  build -f "$here/prometheus.Dockerfile" --label "$label=$prometheus_key" -t "$prometheus_tag" "$work/prometheus"
  ready+=("$prometheus_tag (stand-in, built)")
fi

log "ready:"
printf '    %s\n' "${ready[@]}" >&2
