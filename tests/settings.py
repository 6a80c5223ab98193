"""Test settings: the real PostgreSQL and Redis, with Redis databases of their own."""

import os
import tempfile

from marketplace.settings import *  # noqa: F403
from marketplace.settings import CACHES, REST_FRAMEWORK

# Redis: the cache on one database (cleared between tests), Celery's broker on another, so
# clearing the cache never drops a queued task or a worker's queue bindings.
TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
REDIS_URL = f"{TEST_REDIS}/14"
CACHES = {
    "default": {
        "BACKEND": "marketplace.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "test",
        "OPTIONS": CACHES["default"]["OPTIONS"],
    }
}
CELERY_BROKER_URL = f"{TEST_REDIS}/15"
CELERY_RESULT_BACKEND = f"{TEST_REDIS}/15"

# A Celery worker started by the tests gets a real SMTP address in EMAIL_URL; in-process
# tests keep mail in memory.
if not os.environ.get("EMAIL_URL"):
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HEALTH_CELERY_TIMEOUT = 0.5
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": "1000/min",
        "login_email": "1000/min",
        "register": "1000/min",
    },
}
LOGGING = {"version": 1, "disable_existing_loggers": False}

# WhiteNoise serves collected files in deployments; tests have no collected static root.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

# The public HTTP cache is off unless a test turns it on (tests/test_public_cache.py), so other
# tests see every write at once and no Cache-Control they did not ask for.
PUBLIC_CACHE_SECONDS = 0

# Tests read English unless they ask otherwise; production falls back to Chinese
# (tests/test_language.py checks that fallback with LANGUAGE_CODE set back to zh-hans).
LANGUAGE_CODE = "en"

# Search by meaning: the hashing embedder unless a test asks for the real model (a worker
# started with SEARCH_EMBEDDER in its environment reads the same variable). Each process gets an
# index directory of its own unless one is given: a worker's published index must not reach the
# in-process tests that expect words alone.
SEARCH_EMBEDDER = os.environ.get("SEARCH_EMBEDDER", "matching.embedders.HashingNgramEmbedder")
# No re-ranking unless a test turns it on (the e5 model embeds ~20 titles a second).
SEARCH_RERANK_EMBEDDER = os.environ.get("SEARCH_RERANK_EMBEDDER", "")
SEARCH_VECTOR_DIR = os.environ.get("SEARCH_VECTOR_DIR") or tempfile.mkdtemp(prefix="vectors-")
