# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its pinned dependencies, then run it as a non-root user. The wheel carries
# everything atb needs at run time: bundled candles and models, and the migrations (docs/adr/0007-installed-atb.md).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
COPY migrations ./migrations
RUN python -m venv /opt/atb \
 && /opt/atb/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/atb/bin/pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 atb \
 && mkdir -p /data \
 && chown atb:atb /data
COPY --from=build /opt/atb /opt/atb
# The data directory (SQLite database, trained models) is a volume: `docker run -v atb-data:/data ...`.
ENV PATH="/opt/atb/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    ATB_DATA_DIR=/data
WORKDIR /home/atb
USER atb
VOLUME ["/data"]
# Checks the install (package, migrations) and that the database answers (SQLite in /data, or DATABASE_URL);
# [M9] replaces it with the live engine's health endpoint.
HEALTHCHECK --interval=60s --timeout=30s --start-period=10s --retries=3 CMD ["atb", "db", "current"]
ENTRYPOINT ["atb"]
CMD ["--help"]
