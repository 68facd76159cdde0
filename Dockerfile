# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its pinned dependencies, then run it as a non-root user.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
RUN python -m venv /opt/atb \
 && /opt/atb/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/atb/bin/pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 atb
COPY --from=build /opt/atb /opt/atb
COPY alembic.ini /app/alembic.ini
COPY migrations /app/migrations
ENV PATH="/opt/atb/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    ATB_DATA_DIR=/home/atb/.local/share/atb
WORKDIR /app
USER atb
# HEALTHCHECK arrives with the live engine's health endpoint ([M7]).
ENTRYPOINT ["atb"]
CMD ["--help"]
