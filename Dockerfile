# syntax=docker/dockerfile:1
# One image per service, from one build:
#   docker build --target producer-service -t producer-service .
#   docker build --target consumer-service -t consumer-service .

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# Toolchain plus what librdkafka's bundled build needs (make, a C++ compiler,
# zlib, and OpenSSL for TLS and SASL SCRAM).
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends make g++ pkg-config zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /app

# The dependency recipe changes only when Cargo.toml or Cargo.lock do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# Dependencies (librdkafka included) in their own cached layer, then our code,
# built by the same script CI uses.
FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
      -p producer-service -p consumer-service
COPY . .
RUN scripts/build-release.sh

# ca-certificates: the CA store TLS to managed Kafka clusters verifies against.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
ENV LOG_FORMAT=json

# A stage per service: the compose files build each by its target name. The
# two only look alike: their ports and start periods differ (the consumer
# joins its group first), and exec-form ENTRYPOINT and HEALTHCHECK expand no
# ARG, so one shared stage could not name the binary.

# 8080: the API (HTTP_ADDR); 9080: probes and metrics (MANAGEMENT_ADDR),
# which the healthcheck subcommand asks.
FROM runtime AS producer-service
COPY --from=builder /app/target/release/producer-service /usr/local/bin/producer-service
EXPOSE 8080 9080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["producer-service", "healthcheck"]
# Exec form: the binary is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["producer-service"]

# 9081: probes and metrics (MANAGEMENT_ADDR), its only listener.
FROM runtime AS consumer-service
COPY --from=builder /app/target/release/consumer-service /usr/local/bin/consumer-service
EXPOSE 9081
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["consumer-service", "healthcheck"]
ENTRYPOINT ["consumer-service"]
