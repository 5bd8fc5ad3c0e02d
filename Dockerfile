# syntax=docker/dockerfile:1
# technifold: one static Go binary (pure Go, CGO_ENABLED=0) on a small Debian base.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t technifold .
#   docker run -p 8080:8080 -v technifold-data:/data --env-file technifold.env technifold

# --- build ---------------------------------------------------------------------------------
# go.mod asks for Go 1.26.8; the golang:1.26 tag follows the newest 1.26.x.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X github.com/technifold/technifold/app.Version=${VERSION}" \
      -o /out/technifold . \
 && /out/technifold version

# --- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim
# CA certificates for Stripe, Zoho and S3; user and group 10001 own /data and run the server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 technifold \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin technifold \
 && mkdir -p /data && chown 10001:10001 /data && chmod 0750 /data
COPY --from=build /out/technifold /usr/local/bin/technifold
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
# Used only when LITESTREAM_CONFIG=/etc/technifold/litestream.yml is set (instead of REPLICA_URL).
COPY litestream.yml /etc/technifold/litestream.yml
RUN chmod 0755 /usr/local/bin/docker-entrypoint

ENV DATABASE_PATH=/data/technifold.db \
    ADDR=:8080 \
    LOG_FORMAT=json
# The image's /data belongs to 10001, so a new Docker named volume starts out writable for it, and
# Fly.io mounts a volume owned by the image's user. A bind mount must belong to 10001:10001 (or
# start the container once with --user 0: the entrypoint then gives the directory to 10001 and
# drops to it).
VOLUME /data
EXPOSE 8080
# /healthz through the binary itself (the image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["technifold", "healthcheck"]
STOPSIGNAL SIGTERM
USER 10001:10001
ENTRYPOINT ["docker-entrypoint"]
CMD ["technifold", "serve"]
