# syntax=docker/dockerfile:1
# Sealgate's image: `sealgate serve` on 0.0.0.0:8300, state in the /var/lib/sealgate volume.
# Built by docker-compose.yml; alone: `docker build -t sealgate .`.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sealgate \
    && install -m 0755 target/release/sealgate /usr/local/bin/sealgate

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/sealgate --no-create-home \
        --shell /usr/sbin/nologin sealgate \
    && mkdir -p /var/lib/sealgate \
    && chown sealgate:sealgate /var/lib/sealgate \
    && chmod 0700 /var/lib/sealgate
COPY --from=builder /usr/local/bin/sealgate /usr/local/bin/sealgate

# The root key, the key store and generated credentials live here: back the volume up.
ENV SEALGATE_DATA_DIR=/var/lib/sealgate
VOLUME ["/var/lib/sealgate"]
WORKDIR /var/lib/sealgate
USER sealgate
EXPOSE 8300
ENTRYPOINT ["sealgate", "serve", "--listen", "0.0.0.0:8300"]
