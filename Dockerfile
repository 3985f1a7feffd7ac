# syntax=docker/dockerfile:1.7
# Worklog production image: gunicorn as a non-root user, assets built from the npm lockfile.

FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit --loglevel=error \
 && mkdir -p vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js vendor/ \
 && cp node_modules/@picocss/pico/css/pico.min.css vendor/

FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    LOG_FORMAT=json \
    FLASK_APP=wsgi.py \
    WORKLOG_INSTANCE_PATH=/var/lib/worklog
WORKDIR /app

RUN groupadd --system --gid 10001 worklog \
 && useradd --system --uid 10001 --gid worklog --home-dir /app --shell /usr/sbin/nologin worklog \
 && mkdir -p /var/lib/worklog && chown worklog:worklog /var/lib/worklog

COPY pyproject.toml README.md ./
COPY app ./app
# Editable: templates/, static/ and migrations/ live beside the package, not inside it.
RUN pip install -e . && pybabel compile -d app/translations
COPY wsgi.py gunicorn.conf.py babel.cfg ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=assets /build/vendor ./static/vendor

USER worklog:worklog
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"]
# Run `flask db upgrade` as a release step (one container) before starting new app containers.
# gunicorn.conf.py: gthread workers (a streamed AI draft holds a thread, not a worker), sizes from
# WEB_CONCURRENCY / GUNICORN_THREADS, Prometheus multiprocess files in /tmp (wiped at start),
# JSON logs on stderr. A read-only root filesystem needs /tmp and /dev/shm writable (tmpfs).
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
