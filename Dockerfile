# syntax=docker/dockerfile:1
#
# The rnats server image: a drop-in for the official nats image.
#
#   docker build -t rnats .
#   docker run --rm -p 4222:4222 -p 8222:8222 rnats
#
# Ports as the NATS admin docs list them: 4222 clients, 6222 routes (cluster),
# 8222 HTTP monitoring. The default config is deploy/nats-server.conf, at the
# path of the official alpine image; flags after the image name replace it,
# as with nats-server (`docker run rnats --config /etc/nats/nats-server.conf -DV`).

# Build stage: the Rust toolchain on Debian bookworm, the same glibc as the
# runtime image below. Override with --build-arg RUST_IMAGE=... to pin.
ARG RUST_IMAGE=rust:1-slim-bookworm
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the
# binary is copied out of the cached target dir, which does not persist into
# the layer. Debug info is dropped here (the release profile keeps it for
# profiling), symbols stay so a panic backtrace names functions.
# `nats-server` is a symlink so tooling that runs that name (Helm chart
# commands, scripts) finds rnats.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo build --release --locked --bin rnats \
 && install -D -m 0755 target/release/rnats /out/rnats \
 && ln -s rnats /out/nats-server

# Runtime stage: distroless "cc" has glibc and libgcc (all rnats links
# against; it needs no OpenSSL) and no shell or package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="rnats" \
      org.opencontainers.image.description="A NATS message broker in Rust, a drop-in for nats-server" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ /usr/local/bin/
COPY deploy/nats-server.conf /etc/nats/nats-server.conf
# The distroless "nonroot" user, numeric so Kubernetes' runAsNonRoot can
# check it without an /etc/passwd lookup.
USER 65532:65532
EXPOSE 4222 6222 8222
ENTRYPOINT ["/usr/local/bin/rnats"]
CMD ["--config", "/etc/nats/nats-server.conf"]
