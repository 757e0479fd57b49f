# syntax=docker/dockerfile:1
# The `ddiscord` image: one binary, every component a subcommand (ingest, state-worker, sim, ...).
#
#   docker build -t ghcr.io/ddiscord/ddiscord:0.1.0 .
#
# Layers are ordered for the cache: the dependency build (cargo-chef "cook", from the manifests and
# Cargo.lock only) is reused until a Cargo.toml or Cargo.lock changes; editing source code rebuilds
# only the workspace crates. See docs/deploy.md.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- tools ----------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS chef
# https://github.com/LukeMathWalker/cargo-chef
RUN cargo install cargo-chef --locked --version "^0.1"
WORKDIR /src

# --- the dependency recipe: manifests and Cargo.lock only -----------------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- build ----------------------------------------------------------------------------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: cached as long as recipe.json (the manifests and Cargo.lock) is unchanged.
RUN cargo chef cook --release -p ddiscord-cli --recipe-path recipe.json
COPY . .
RUN cargo build --release -p ddiscord-cli --locked \
 && install -D -m 0755 target/release/ddiscord /out/ddiscord

# --- runtime --------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ddiscord \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ddiscord
COPY --from=builder /out/ddiscord /usr/local/bin/ddiscord
# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
# /healthz, /readyz and /metrics (DDISCORD_HTTP_ADDR); 7878 is `ddiscord sim`'s gateway.
EXPOSE 8080 7878
LABEL org.opencontainers.image.title="ddiscord" \
      org.opencontainers.image.description="Discord gateway shards, state workers and tools over an event mesh" \
      org.opencontainers.image.source="https://github.com/ddiscord/ddiscord" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
ENTRYPOINT ["ddiscord"]
CMD ["--help"]
