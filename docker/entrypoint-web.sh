#!/bin/sh
# Start the web service of docker-compose.yml the way `make run` does: make sure the database
# exists, migrate it, load the demo data (idempotent, prints the log-ins), then serve the app.
set -eu

# PostgreSQL may still be starting: retry ensure_database (creates the database when it is
# missing) for up to WAIT_SECONDS.
WAIT_SECONDS=60
started=$(date +%s)
until python manage.py ensure_database; do
    if [ $(($(date +%s) - started)) -ge "$WAIT_SECONDS" ]; then
        echo "PostgreSQL did not answer within ${WAIT_SECONDS} s; giving up." >&2
        exit 1
    fi
    echo "Waiting for PostgreSQL..." >&2
    sleep 2
done

python manage.py migrate --no-input
python manage.py load_demo

echo "API: http://localhost:8000/api/v1/  docs: http://localhost:8000/api/v1/docs/"
echo "Admin: http://localhost:8000/admin/  health: http://localhost:8000/healthz"

exec gunicorn marketplace.wsgi:application \
    --bind 0.0.0.0:8000 \
    --workers 5 \
    --access-logfile -
