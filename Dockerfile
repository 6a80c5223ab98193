# One image for the API server (gunicorn), the Celery worker and Celery beat.
# docker-compose.yml runs all three from it; see the comment at the top of that file.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The processes run as an unprivileged user; the code itself stays owned by root (read-only).
# The user's home is writable: gunicorn puts its control socket in ~/.gunicorn/.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Runtime pins only (no dev tools), every file checked against its hash.
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

COPY . .

# Static files are collected into /app/staticfiles at build time and served by whitenoise.
# The throwaway SECRET_KEY and DJANGO_ENV exist for this step only; importing the settings
# opens no database or Redis connection. The time-zone check fails the build early if the
# base image ever stops shipping the IANA database that TIME_ZONE needs.
RUN DJANGO_ENV=development \
    SECRET_KEY=build-only-throwaway-key-used-for-collectstatic-and-nothing-else \
    python manage.py collectstatic --no-input \
    && python -c "import zoneinfo; zoneinfo.ZoneInfo('Asia/Shanghai')" \
    && chmod 0755 docker/entrypoint-web.sh \
    && mkdir -p /app/media \
    && chown app:app /app/media

USER app

EXPOSE 8000

CMD ["gunicorn", "marketplace.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "5", "--access-logfile", "-"]
