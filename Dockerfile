# syntax=docker/dockerfile:1
# A container image that runs several programs under supervisord as PID 1.
#
#   docker build -t supervisor-rs .
#   docker run --rm -p 9001:9001 -e SUPERVISOR_PASSWORD=secret supervisor-rs
#
# Stage 1 builds the three binaries; stage 2 is a small Debian image with only those and a
# config (examples/container/supervisord.conf, which shows critical programs and prefixed
# stdout logs). Replace that config, or add programs under /etc/supervisor/conf.d/, and put
# your own programs in the image.

FROM rust:1-bookworm AS build
WORKDIR /src
# Manifests first, so the dependencies are fetched in a layer of their own.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p supervisord -p supervisorctl -p echo_supervisord_conf

FROM debian:bookworm-slim
COPY --from=build /src/target/release/supervisord /src/target/release/supervisorctl \
     /src/target/release/echo_supervisord_conf /usr/local/bin/
COPY examples/container/supervisord.conf /etc/supervisor/supervisord.conf
# The web UI's password (the config reads %(ENV_SUPERVISOR_PASSWORD)s): change it at run
# time with -e SUPERVISOR_PASSWORD=...; the probes /livez and /readyz need none.
ENV SUPERVISOR_PASSWORD=change-me
# Refuse to build an image whose config does not load (exit 2 of --check-config).
RUN mkdir -p /etc/supervisor/conf.d \
    && supervisord -c /etc/supervisor/supervisord.conf --check-config
EXPOSE 9001
# SIGTERM makes supervisord stop every program in order, then exit.
STOPSIGNAL SIGTERM
# `supervisorctl pid` answers as long as the daemon's loop does.
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["supervisorctl", "-c", "/etc/supervisor/supervisord.conf", "pid"]
ENTRYPOINT ["supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"]
