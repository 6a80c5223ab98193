"""The acceptance benchmark's bare HTTP floor: a WSGI application with no framework that reads
the JSON body and answers 201 with a small JSON body. Served by the same gunicorn configuration
under the same load, it shows what the server and the clients alone cost on this machine."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length)) if length else {}
    answer = json.dumps({"id": 1, "declaration": body.get("declaration")}).encode()
    start_response(
        "201 Created",
        [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
    )
    return [answer]
