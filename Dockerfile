# opsbot container image: static-ish Rust binary on distroless, non-root, no shell.
#   docker build -t opsbot:dev .
#   docker run --rm -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -v "$PWD/opsbot.toml:/etc/opsbot/opsbot.toml:ro" opsbot:dev
# There is no HEALTHCHECK (no shell or curl in the image): Kubernetes probes GET /healthz
# (liveness) and GET /readyz (readiness) on port 3000, see manifests/k8s/base/deployment.yaml.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# 1. Dependencies only, with stub targets: this layer is reused until Cargo.toml/Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY scripts/build-release scripts/build-release
RUN mkdir -p src benches tests/it \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs tests/it/main.rs \
 && for b in ack credentials; do echo 'fn main() {}' > "benches/$b.rs"; done \
 && scripts/build-release \
 && rm -rf src
# 2. The source: only opsbot itself is rebuilt.
COPY src src
RUN touch src/main.rs src/lib.rs \
 && scripts/build-release \
 && install -D -m 0555 target/release/opsbot /out/opsbot

FROM gcr.io/distroless/cc-debian12:nonroot
# checkov:skip=CKV_DOCKER_2: distroless has no shell or curl for a HEALTHCHECK; Kubernetes probes /healthz and /readyz
ARG VERSION=dev
LABEL org.opencontainers.image.title="opsbot" \
      org.opencontainers.image.description="Slack bot: read-only, attributable answers about an AWS Organization" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/opsbot /usr/local/bin/opsbot
USER 65532:65532
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.toml"]
