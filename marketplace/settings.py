"""Settings for the marketplace, read from the environment (see .env.example)."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# DJANGO_ENV is "development" (the default: local services, verbose errors) or "production".
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
IS_PRODUCTION = DJANGO_ENV == "production"

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or ("" if IS_PRODUCTION else _DEV_SECRET_KEY)
if IS_PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 50 characters in production."
    )

DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "marketplace",
    "licensing",
    "matching",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "marketplace.i18n.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "marketplace.api.errors.DatabaseUnavailableMiddleware",
    # Outside the public cache: a page view or search answered from the cache still counts.
    "marketplace.counters.PatentCounterMiddleware",
    # Last, so that a cached answer still passes through every middleware above.
    "marketplace.http_cache.PublicCacheMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/marketplace"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Search ANDs GIN bitmaps over up to a few hundred thousand rows: at PostgreSQL's 4 MB default
# a third of the pages went lossy and were re-checked against the detoasted text (1M patents:
# candidate p95 154 → 66 ms at 32 MB, BENCHMARKS.md). Per sort/hash node, per connection.
DATABASE_WORK_MEM = env.str("DATABASE_WORK_MEM", default="32MB")
if DATABASE_WORK_MEM:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c work_mem={DATABASE_WORK_MEM}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Every Redis client of a request (cache and throttles, broker publishes, page counters) waits
# at most this long to connect and for each answer: a Redis that accepts connections and never
# answers (hung, paused, a half-open connection after a failover) costs a request this much,
# not forever. After a failed call the process skips that server for REDIS_RETRY_AFTER_SECONDS
# (marketplace/unreachable.py), so the next calls of the outage cost nothing.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
REDIS_RETRY_AFTER_SECONDS = env.float("REDIS_RETRY_AFTER_SECONDS", default=5.0)
# Anonymous public reads (marketplace/http_cache.py): how long shared caches may keep an answer
# (0 turns the middleware off), how long they may serve it stale while revalidating, and how
# long the server keeps a rendered body (any change to public data invalidates it at once).
PUBLIC_CACHE_SECONDS = env.int("PUBLIC_CACHE_SECONDS", default=10)
PUBLIC_CACHE_STALE_SECONDS = env.int("PUBLIC_CACHE_STALE_SECONDS", default=30)
PUBLIC_CACHE_SERVER_SECONDS = env.int("PUBLIC_CACHE_SERVER_SECONDS", default=300)
CACHES = {
    "default": {
        # Degrades to "nothing cached" while Redis is away (marketplace/cache.py); a cache
        # call waits at most REDIS_SOCKET_TIMEOUT for it.
        "BACKEND": "marketplace.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="marketplace"),
        "TIMEOUT": 300,
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

AUTH_USER_MODEL = "marketplace.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "pages:login"
LOGIN_REDIRECT_URL = "/"

# Accept-Language, else the user's preferred_language (marketplace/i18n.py), else Chinese.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "marketplace" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Largest request body the API accepts (JSON and forms); bigger bodies get 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# E-mail: console in development, SMTP when EMAIL_URL says so (smtp://user:pass@host:port).
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
if EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
    # The same console, with the Chinese subjects readable (marketplace/mail_console.py).
    EMAIL_BACKEND = "marketplace.mail_console.ConsoleEmailBackend"
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@marketplace.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Base URL used in links that go out by e-mail (verification, invitations).
FRONTEND_URL = env.str("FRONTEND_URL", default="http://127.0.0.1:8000")
EMAIL_VERIFICATION_TIMEOUT_HOURS = env.int("EMAIL_VERIFICATION_TIMEOUT_HOURS", default=72)
INVITATION_TIMEOUT_DAYS = env.int("INVITATION_TIMEOUT_DAYS", default=14)
# A password reset link is void after this many hours (and once used or after a log-in).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_HOURS", default=2) * 3600

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.i18n.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "marketplace.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "marketplace.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="20/min"),
        "login_email": env.str("THROTTLE_LOGIN_EMAIL", default="5/min"),
        "register": env.str("THROTTLE_REGISTER", default="20/hour"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Open-license patent marketplace API",
    "DESCRIPTION": (
        "Universities list patents under open licenses (专利开放许可, Patent Law Arts 50-52), "
        "SMEs find and accept licenses, mediators settle disputes. Every 4xx answer has the "
        'shape {"code", "detail", "fields"}; send Accept-Language: zh-hans for Chinese messages.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "marketplace.api.schema.token_auth_first",
        "marketplace.http_cache.document_not_modified",
    ],
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "OrganisationKindEnum": "marketplace.models.organisations.OrganisationKind",
        "ExclusiveLicenseKindEnum": "marketplace.models.patents.ExclusiveLicenseKind",
        "NeedPaymentMethodEnum": "marketplace.models.needs.PaymentMethodPreference",
        "DeclarationPaymentMethodEnum": "licensing.models.declarations.PaymentMethod",
        "DeclarationStatusEnum": "licensing.models.declarations.DeclarationStatus",
        "ImportStatusEnum": "marketplace.models.imports.ImportStatus",
        "NeedStatusEnum": "marketplace.models.needs.NeedStatus",
        "InvitationStatusEnum": "marketplace.models.organisations.InvitationStatus",
        "LegalStatusEnum": "marketplace.models.patents.LegalStatus",
        "MatchedByEnum": "marketplace.search.languages.MatchedBy",
    },
}

# Celery: Redis is the broker; PostgreSQL stays the only source of truth.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "marketplace.tasks.import_*": {"queue": "import"},
    "*.index_*": {"queue": "index"},
    "matching.tasks.index_vectors": {"queue": "index"},
    "matching.tasks.*": {"queue": "match"},
    "licensing.tasks.*": {"queue": "default"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every task is fire-and-forget: nothing reads a result, and a publish that first subscribed
# to the result backend waited ~20 s for an absent Redis, then raised (issue 15).
CELERY_TASK_IGNORE_RESULT = True
# A publish after commit gives up fast when the broker is away (one retry, at most ~1 s in
# all); what it carried is kept in the database and sent again (marketplace.celery).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
# socket_timeout bounds a publish to a Redis that accepts and never answers (without it a
# request waited forever); the worker's own BRPOP is read from its event loop, untouched.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
}
# kombu's Redis transport with the fix for a worker that loses Redis while it holds
# unacknowledged messages (marketplace/broker.py); other brokers keep their own transport.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "marketplace.broker:Transport"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "expire-invitations": {
        "task": "marketplace.tasks.expire_invitations",
        "schedule": 3600.0,
    },
    "mediation-deadlines": {
        "task": "licensing.tasks.sweep_mediation_cases",
        "schedule": 6 * 3600.0,
    },
    "nightly-rematch": {
        "task": "matching.tasks.full_rematch",
        "schedule": 24 * 3600.0,
    },
    "publish-unsent-tasks": {
        "task": "marketplace.tasks.publish_unsent_tasks",
        "schedule": 60.0,
    },
    "resend-stale-emails": {
        "task": "marketplace.tasks.resend_stale_emails",
        "schedule": 600.0,
    },
    "resume-stale-imports": {
        "task": "marketplace.tasks.resume_stale_imports",
        "schedule": 300.0,
    },
    # Vectors a lost broker message left stale (a hash per patent; embeds only those).
    "search-vectors-sweep": {
        "task": "marketplace.tasks.index_patent_vectors",
        "schedule": 24 * 3600.0,
    },
    "resume-stale-match-runs": {
        "task": "matching.tasks.resume_stale_runs",
        "schedule": 60.0,
    },
    "weekly-match-digest": {
        "task": "matching.tasks.weekly_digest",
        "schedule": 7 * 24 * 3600.0,
    },
    "notify-missed-events": {
        "task": "licensing.tasks.notify_missed_events",
        "schedule": 600.0,
    },
    "license-reminders": {
        "task": "licensing.tasks.send_license_reminders",
        "schedule": 24 * 3600.0,
    },
    # A license whose term is over ends (licensing.workflow: effective → ended).
    "end-licenses": {
        "task": "licensing.tasks.end_licenses",
        "schedule": 24 * 3600.0,
    },
    # The reviewers' funnel of the whole register (issue 18), as fresh as the view counters.
    "refresh-register-funnel": {
        "task": "reporting.tasks.refresh_register_funnel",
        "schedule": 600.0,
    },
    # Open statistics (issue 18): also refreshed five minutes after declaration and license events.
    "refresh-open-statistics": {
        "task": "licensing.tasks.refresh_open_statistics",
        "schedule": 3600.0,
    },
    # Saved searches (issue 13): one e-mail a day listing the new matches.
    "saved-search-digests": {
        "task": "marketplace.tasks.send_saved_search_digests",
        "schedule": 24 * 3600.0,
    },
    # Patent page views and search impressions (issue 18): Redis hashes into the table.
    "flush-patent-counters": {
        "task": "marketplace.tasks.flush_patent_counters",
        "schedule": 60.0,
    },
    "expire-declarations": {
        "task": "licensing.tasks.expire_declarations",
        "schedule": 6 * 3600.0,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]

# How long /healthz waits for a Celery worker to answer a ping.
HEALTH_CELERY_TIMEOUT = env.float("HEALTH_CELERY_TIMEOUT", default=1.0)

# Bulk import: largest upload accepted, and how many row errors a job keeps for the client.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
IMPORT_MAX_REPORTED_ERRORS = env.int("IMPORT_MAX_REPORTED_ERRORS", default=1000)
# A running import with no progress for this long lost its worker: it is queued again, and
# failed after IMPORT_MAX_ATTEMPTS runs. Progress is saved at least every 5,000 rows read and
# every 2,000 rows written (a few seconds apart).
IMPORT_STALE_MINUTES = env.int("IMPORT_STALE_MINUTES", default=15)
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=3)
# E-mail queued or claimed this long ago and not sent was left behind by a lost worker (the
# retry back-off of send_email tops out at 16 minutes).
EMAIL_STALE_MINUTES = env.int("EMAIL_STALE_MINUTES", default=30)
# E-mails of one notification go to the worker in batches of this many (one SMTP connection each).
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=50)

# Further demo data loaded by `load_demo` after the core demo (apps that build on marketplace).
DEMO_EXTRA_LOADERS = [
    "licensing.demo.load_demo_declarations",
    "licensing.demo.load_demo_activity",
    "matching.demo.load_demo_matches",
]

# Days a licensee has to pay the royalty on a reported period.
ROYALTY_PAYMENT_DAYS = env.int("ROYALTY_PAYMENT_DAYS", default=30)

# Matching (its embedder is SEARCH_EMBEDDER, below): an optional local sentence-model path,
# the score weights (one place), how many matches per SME, and at most how many per patentee.
MATCHING_MODEL_PATH = env.str("MATCHING_MODEL_PATH", default="")
# Topical weights chosen on the judged set with the search's USE vectors (bench/match_judged.py,
# BENCHMARKS.md "Matching: the search's vectors"): 0.40/0.25/0.15 gave nDCG@10 0.823, these 0.875.
MATCHING_WEIGHTS = {
    "semantic": 0.50,
    "industry": 0.15,
    "keywords": 0.25,
    "region": 0.10,
    "affordability": 0.10,
}
MATCHING_TOP_K = env.int("MATCHING_TOP_K", default=50)
MATCHING_PER_PATENTEE = env.int("MATCHING_PER_PATENTEE", default=3)
# No match under this score is listed or shown (scores run 0–0.96; see matching/engine.py).
MATCHING_MIN_SCORE = env.float("MATCHING_MIN_SCORE", default=0.1)
MATCHING_CHUNK_SMES = env.int("MATCHING_CHUNK_SMES", default=2000)
# A worker consuming the `match` queue reads the supply and every SME's demand at start, so its
# first trigger is not cold (seconds at 59,000 declarations; off: read at the first trigger).
MATCHING_WARM_WORKER = env.bool("MATCHING_WARM_WORKER", default=True)
# A chunk a worker started this many seconds ago and has not finished is sent again (its
# worker was killed; a slow one only wastes the work, the chunk is written once).
MATCHING_CHUNK_STALE_SECONDS = env.int("MATCHING_CHUNK_STALE_SECONDS", default=180)


# Search by meaning: the sentence embedder of patents and queries (weights inside its package)
# and the directory of the shared vector index file every web worker memory-maps (on one host,
# or a volume the web workers and the `index` workers share).
SEARCH_EMBEDDER = env.str("SEARCH_EMBEDDER", default="matching.embedders.UseMultilingualEmbedder")
SEARCH_VECTOR_DIR = env.path("SEARCH_VECTOR_DIR", default=BASE_DIR / "var" / "search-vectors")
# From this many vectors on, the index also gets an HNSW graph (usearch) and a search reads the
# graph's candidates instead of scoring every vector's 8-bit code. Measured (BENCHMARKS.md "Search
# speed"): the codes answer as brute force does, in a fraction of its time, up to 1,000,000; the
# graph, asked for the search's pool of 1,000, was slower than brute force at 59,000 and takes
# minutes to build, so it is for corpora past the measured range.
SEARCH_ANN_MIN_VECTORS = env.int("SEARCH_ANN_MIN_VECTORS", default=5_000_000)
# Re-ranking: a stronger embedder of the patents' titles (stored beside the search vectors, on
# the `index` queue) re-orders the first SEARCH_RERANK_DEPTH candidates of a search, its cosine
# weighted by SEARCH_RERANK_WEIGHT (marketplace/search/rerank.py; chosen on the judged set and
# CSL, BENCHMARKS.md "Re-ranking by e5 on titles"). Empty: no re-ranking.
SEARCH_RERANK_EMBEDDER = env.str(
    "SEARCH_RERANK_EMBEDDER", default="matching.embedders.MultilingualE5Embedder"
)
SEARCH_RERANK_DEPTH = env.int("SEARCH_RERANK_DEPTH", default=30)
SEARCH_RERANK_WEIGHT = env.float("SEARCH_RERANK_WEIGHT", default=4.0)
# A web process loads the embedding model and maps the vector index when it starts (wsgi.py),
# so no user's search pays the ~2 s of loading the model.
SEARCH_WARM_UP = env.bool("SEARCH_WARM_UP", default=True)
