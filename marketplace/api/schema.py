"""OpenAPI schema adjustments: token authentication first in Swagger UI's Authorize dialog."""

from __future__ import annotations

from typing import Any

TOKEN_DESCRIPTION = (
    "Get a key with POST /api/v1/auth/token/ (e-mail and password), then paste "
    "`Token <key>` here: the word Token, one space, the key "
    "(e.g. `Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b`). "
    "Swagger UI sends the value as the Authorization header exactly as typed."
)
COOKIE_DESCRIPTION = (
    "The session cookie of a browser logged in at /login/ (or the admin); "
    "Swagger UI cannot set it, log in in the same browser instead."
)


def token_auth_first(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Put tokenAuth before cookieAuth (spectacular sorts them by name) and explain both."""
    schemes = result.get("components", {}).get("securitySchemes")
    if schemes:
        ordered = {name: schemes[name] for name in ("tokenAuth", "cookieAuth") if name in schemes}
        ordered.update({k: v for k, v in schemes.items() if k not in ordered})
        if "tokenAuth" in ordered:
            ordered["tokenAuth"]["description"] = TOKEN_DESCRIPTION
        if "cookieAuth" in ordered:
            ordered["cookieAuth"]["description"] = COOKIE_DESCRIPTION
        result["components"]["securitySchemes"] = ordered
    return result
