# syntax=docker/dockerfile:1.7
#
# One image with the four service binaries, the office console, the crawler and the CLI (deploy/README.md "Images").
#
#   docker build -t registry.example/nianbao:$(git describe --always) .
#
# Build stage: the workspace as committed (Cargo.lock, --locked), with the toolchain the
# workspace declares (rust-version = 1.95). Dependencies come from crates.io during the build
# only; the image needs no network at run time. The cache mounts keep the registry and target
# directory between builds on one builder; they are not part of the image.
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Reproducible paths and timestamps: no build-machine paths in the binaries (panic messages,
# debug info) and a fixed SOURCE_DATE_EPOCH for anything that stamps the time.
ARG SOURCE_DATE_EPOCH=0
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} \
    RUSTFLAGS="--remap-path-prefix=/src=/nianbao --remap-path-prefix=/usr/local/cargo=/cargo"
COPY Cargo.toml Cargo.lock ./
COPY proto ./proto
COPY crates ./crates
COPY tests ./tests
COPY deploy/config ./deploy/config
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p nianbao-ingest -p nianbao-extraction -p nianbao-validation -p nianbao-notification \
        -p nianbao-console -p nianbao-crawler -p nianbao-cli \
    && mkdir -p /out \
    && for b in nianbao-ingest nianbao-extraction nianbao-validation nianbao-notification nianbao-console nianbao-crawler nianbao; do \
         install -m 0755 "target/release/$b" /out/; \
       done

# Runtime: Debian slim with the CA roots only (TLS to the broker, PostgreSQL, web hooks and the
# crawled sites when their CA is not given), a shell for `kubectl exec … nianbao credentials …`,
# and an unprivileged user. Nothing else: the binaries are linked against glibc only.
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates is not pinned to a version: Debian keeps only the current one of a stable
# release on its mirrors, so a pin would break the build at the next point release; the base
# image tag (or digest, in RUNTIME_IMAGE) is what fixes the runtime.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 nianbao \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/nianbao --shell /usr/sbin/nologin nianbao \
    && mkdir -p /var/lib/nianbao /etc/nianbao \
    && chown 10001:10001 /var/lib/nianbao
COPY --from=build /out/ /usr/local/bin/
# The embedded defaults, for reference inside the container (the binaries carry their own copy).
COPY deploy/config/ /usr/share/nianbao/config/
LABEL org.opencontainers.image.title="nianbao" \
      org.opencontainers.image.description="nianbao (年报): ingest, extraction, validation, notification, office console, crawler and CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /var/lib/nianbao
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
ENV NIANBAO_LOG__FORMAT=json
# gRPC (ingest, extraction, validation, notification), metrics/health and the console's HTTPS
# ports; see deploy/README.md.
EXPOSE 50051 50052 50053 50054 9451 9452 9453 9454 8443
# No ENTRYPOINT: every Deployment, Job and compose service names its binary.
CMD ["nianbao", "--help"]
