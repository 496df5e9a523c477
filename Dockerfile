# syntax=docker/dockerfile:1
# One image for every process in the Procfile: `docker run IMAGE web|ws|worker|beat|release`.
# The base images are build arguments: production builds use the official images below; CI (.ci/image)
# builds on bases it makes from Debian packages (Python 3.11+ with pip and venv; Node with npm).
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# --- 1. Front-end libraries from npm (Bootstrap, icons, Chart.js); never a CDN. ---------------
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

# --- 2. Python dependencies in a virtualenv, and static files collected with their hashes. -----
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
WORKDIR /app
COPY . .
COPY --from=assets /src/node_modules ./node_modules
# Settings refuse DEBUG=false without these; the values live only in this build step.
RUN DEBUG=false SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-0123456789 \
    ALLOWED_HOSTS=build.invalid CLAMD_URL=tcp://127.0.0.1:3310 \
    python manage.py collectstatic --noinput

# --- 3. Runtime: no compilers, no npm, a non-root user. ------------------------------------
FROM ${BASE_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    DEBUG=false LOG_FORMAT=json PORT=8000 WS_PORT=8001
# The receipt PDFs draw names in any script with DejaVu (RECEIPT_FONT_DIR).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app . .
# node_modules stays only so STATICFILES_DIRS exists (no check warning); pages are served from staticfiles/.
COPY --from=build --chown=app:app /app/node_modules ./node_modules
COPY --from=build --chown=app:app /app/staticfiles ./staticfiles
USER app
EXPOSE 8000 8001
# No HEALTHCHECK here: the same image runs workers too. Point the orchestrator's probes at
# GET /health (liveness) and GET /ready (readiness) of the web process.
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
