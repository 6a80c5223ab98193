"""WSGI entry point (gunicorn marketplace.wsgi).

Each web process (a gunicorn worker imports this module before it accepts a request; so does
runserver) warms the search up first: the embedding model loaded and the vector index mapped
(settings.SEARCH_WARM_UP), so no user's first search waits ~2 s for the model.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()


def _warm_up() -> None:
    from django.conf import settings

    if settings.SEARCH_WARM_UP:
        from marketplace.search.vectors import warm_up

        warm_up()


_warm_up()
