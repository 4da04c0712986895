# Linli's image (docs/self-hosting.md). Two stages: the first installs Linli and its
# dependencies into a virtualenv, at the versions pinned in constraints.txt (the file `make`
# installs from too); the second is a clean slim Python with only that virtualenv in it.
# Every dependency ships a wheel for this platform, so no compiler is needed in either stage.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/linli
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bridge ./bridge
COPY bots ./bots
RUN /opt/linli/bin/pip install --constraint constraints.txt '.[postgres]'

FROM python:3.11-slim
# A user of its own, never root. /config holds bridge.yaml, rooms_config/ and the registration;
# /data the SQLite database when PostgreSQL is not used, and backups.
RUN groupadd --system --gid 10001 linli \
    && useradd --system --uid 10001 --gid linli --home-dir /data --shell /usr/sbin/nologin linli \
    && mkdir -p /config /data \
    && chown linli:linli /config /data
COPY --from=build /opt/linli /opt/linli
ENV PATH=/opt/linli/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /config
USER linli
VOLUME ["/config", "/data"]
# 29330: the appservice (the homeserver's transactions, /health); 29331: /metrics.
EXPOSE 29330 29331
# /health is 200 only while the database and the homeserver answer (bridge/ops.py). The port is
# appservice.listen_port; a deployment that changes it overrides this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:29330/health', timeout=4); sys.exit(0)"]
ENTRYPOINT ["linli", "-c", "/config/bridge.yaml"]
CMD ["run"]
