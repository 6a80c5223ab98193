"""WSGI entry point (gunicorn marketplace.wsgi).

Each web process (a gunicorn worker imports this module before it accepts a request; so does
runserver) warms the search up first: the embedding model loaded and the vector index mapped
(settings.SEARCH_WARM_UP), so no user's first search waits ~2 s for the model.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
# One BLAS thread a web process (before numpy loads): a search runs one matrix-vector product,
# and BLAS threads of several workers on the same cores wait on each other (re-scoring 2,000
# vectors: 0.16 ms on one thread, 38 ms on two at load 14; BENCHMARKS.md "Search speed").
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
application = get_wsgi_application()


def _warm_up() -> None:
    from django.conf import settings

    if settings.SEARCH_WARM_UP:
        from marketplace.search import rerank, vectors

        vectors.warm_up()
        rerank.warm_up()


_warm_up()
# What the imports and the warm-up built lives as long as the process (the model alone is
# hundreds of thousands of objects): frozen out of the collector's reach, so a full collection
# that falls on a user's request no longer walks it (100-145 ms of CPU each on a register page
# at 1,000,000 patents; BENCHMARKS.md "The register's ?ipc= filter on the declaration row").
gc.collect()
gc.freeze()
