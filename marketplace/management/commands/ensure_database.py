"""Create the configured PostgreSQL database when it does not exist yet."""

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL if it is missing (connects to 'postgres')."

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
        params: dict[str, Any] = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        }
        name = db["NAME"]
        try:
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
                exists = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
                if exists:
                    self.stdout.write(f"Database {name!r} exists.")
                    return
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.OperationalError as error:
            raise CommandError(
                f"Cannot reach PostgreSQL at {params['host']}:{params['port']}: {error}"
            ) from error
        self.stdout.write(self.style.SUCCESS(f"Created database {name!r}."))
