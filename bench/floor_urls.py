"""Bench-only endpoints measuring what the framework costs before an acceptance does any work.

Served by `bench/accept_bench.py` (settings `bench.floor_settings`) under the same gunicorn
configuration and the same 50-client load as POST /api/v1/licenses/:

* POST /bench-floor/validate/: the project's authentication (DRF token, one query) and
  permission, the acceptance body parsed and validated by the real `AcceptSerializer`, and a
  201 answer echoing it: no other query, no write.
* POST /bench-floor/write/: the same plus one transaction with one INSERT, the acceptance's
  idempotency record (`IdempotencyRecord.objects.create`, as the real view writes it).

If these floors miss p99 <= 100 ms under the load, no acceptance built on the framework can meet
it on this machine, whatever its own code does.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import include, path
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.api.licenses import AcceptSerializer, _request_hash
from licensing.models import IdempotencyRecord
from marketplace.api.permissions import request_user


def _validated(request: Request) -> dict[str, Any]:
    data = AcceptSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class ValidateFloor(APIView):
    def post(self, request: Request) -> Response:
        values = _validated(request)
        body = {"id": request_user(request).pk, "declaration": values["declaration"]}
        return Response(body, status=status.HTTP_201_CREATED)


class WriteFloor(APIView):
    def post(self, request: Request) -> Response:
        values = _validated(request)
        body = {"declaration": values["declaration"], "licensee": values["licensee"]}
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=request_user(request),
                key=(request.headers.get("Idempotency-Key") or "").strip()[:100],
                request_hash=_request_hash(values),
                status_code=201,
                body=body,
            )
        return Response({"id": record.pk, **body}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bench-floor/validate/", ValidateFloor.as_view()),
    path("bench-floor/write/", WriteFloor.as_view()),
    path("", include("marketplace.urls")),
]
