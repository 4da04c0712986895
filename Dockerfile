# Linli's image (docs/self-hosting.md). Two stages: the first installs Linli and its
# dependencies into a virtualenv, at the versions pinned in constraints.txt (the file `make`
# installs from too); the second is a clean slim Python with only that virtualenv in it.
# No compiler is needed in either stage: every dependency ships a wheel for this platform
# except fontmeta (mplfonts needs it), a pure-Python sdist that pip builds by itself.
#
# BASE: the Python image both stages start from. The official one by default; the Docker test
# (tests/docker) builds on a Debian bookworm made locally, as no registry is reachable there.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/linli
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bridge ./bridge
COPY bots ./bots
# What no user gains from is left out (141 MB of the 405 the virtualenv was): five of
# mplfonts' six CJK fonts (87 MB; charts draw with Noto Sans CJK SC, bridge/chart_font.py),
# the packages' own test suites (numpy's, matplotlib's, pycryptodome's SelfTest), and pip
# and setuptools, which nothing needs at run time.
RUN /opt/linli/bin/pip install --constraint constraints.txt '.[postgres]' \
    && cd /opt/linli/lib/python3.11/site-packages \
    && find mplfonts/fonts -type f ! -name NotoSansCJKsc-Regular.otf -delete \
    && find . -type d \( -name tests -o -name SelfTest \) -prune -exec rm -rf {} + \
    && /opt/linli/bin/pip uninstall --quiet --yes setuptools pip

FROM ${BASE}
# A user of its own, never root. /config holds bridge.yaml, rooms_config/ and the registration
# (Linli writes only bridge.yaml, at init, and the registration there; the operator owns the
# rest); /data the SQLite database when PostgreSQL is not used, and backups.
RUN groupadd --system --gid 10001 linli \
    && useradd --system --uid 10001 --gid linli --home-dir /data --shell /usr/sbin/nologin linli \
    && mkdir -p /config /data \
    && chown linli:linli /config /data \
    && chmod 0700 /data
COPY --from=build /opt/linli /opt/linli
ENV PATH=/opt/linli/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /config
USER linli
VOLUME ["/config", "/data"]
# 29330: the appservice (the homeserver's transactions, /health); 29331: /metrics.
EXPOSE 29330 29331
# /health is 200 only while the database and the homeserver answer (bridge/ops.py), asked on
# the port bridge.yaml's appservice.listen_port names (bridge/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bridge.healthcheck", "/config/bridge.yaml"]
ENTRYPOINT ["linli", "-c", "/config/bridge.yaml"]
CMD ["run"]
