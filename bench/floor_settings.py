"""Settings for the acceptance benchmark's framework floor: the project's own settings (same
middleware, authentication, parsers, renderers, database and connection reuse), with the
bench-only URLconf `bench.floor_urls` in front of the project's. Never used outside bench/."""

from marketplace.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
