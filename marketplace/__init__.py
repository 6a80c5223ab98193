"""Project package and core app: organisations, people, patents, needs, search, open data."""

from marketplace.celery import app as celery_app

__all__ = ("celery_app",)
