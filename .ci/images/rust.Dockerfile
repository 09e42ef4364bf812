# A stand-in for the official `rust:<version>-slim-bookworm` image, for
# machines that cannot pull it (build.sh makes the context): the locally
# built Debian, the packages the official image adds, this machine's own
# rustup toolchain, laid out and on PATH as the official image has them,
# and the host's CA bundle, so that builds inside reach crates.io through
# whatever TLS proxy the host trusts.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# Kept in /usr/local/share too, so that a later update-ca-certificates (an
# apt trigger in a derived image) rebuilds the bundle with it.
COPY host-ca-bundle.crt /usr/local/share/ca-certificates/host-ca-bundle.crt
COPY host-ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ARG RUST_VERSION
ENV RUST_VERSION=${RUST_VERSION}
# Fails the build unless the copied toolchain runs as the default one.
RUN rustc --version && cargo --version
