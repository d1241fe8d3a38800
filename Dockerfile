# Production image: gunicorn serves the web app; the same image runs `manage.py qcluster`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    PATH="/opt/venv/bin:$PATH" \
    DJANGO_SETTINGS_MODULE=lookervault_web.settings_production \
    LOOKERVAULT_DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles

RUN python -m pip install --no-cache-dir uv \
    && useradd --create-home --uid 1000 lookervault \
    && mkdir -p /data && chown lookervault /data

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# collectstatic needs some SECRET_KEY and encryption key at build time only; the real ones come at
# run time.
RUN SECRET_KEY=build-only-not-secret LOOKERVAULT_ENCRYPTION_KEY=build-only-not-secret python manage.py collectstatic --noinput \
    && chown -R lookervault /data /app/staticfiles

USER lookervault
VOLUME ["/data"]
EXPOSE 8000
CMD ["gunicorn", "lookervault_web.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--threads", "4", "--timeout", "600", "--access-logfile", "-"]
