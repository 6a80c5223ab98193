"""API for saved searches: the caller's own, listed, created, renamed, paused and deleted."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.api.ids import path_id
from marketplace.api.pagination import CursorPagination
from marketplace.api.patents import SearchInputSerializer
from marketplace.api.permissions import request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.models import SavedSearch
from marketplace.services import saved_searches as services


class SavedQuerySerializer(SearchInputSerializer, StrictInputSerializer):
    """The words and filters of GET /api/v1/search/patents/ (no scope: saved searches look at
    the listed patents); unknown keys are refused."""

    scope = None  # type: ignore[assignment]


class SavedQueryOutputSerializer(serializers.Serializer[Any]):
    q = serializers.CharField(required=False)
    ipc = serializers.ListField(child=serializers.CharField(), required=False)
    patent_type = serializers.ListField(child=serializers.CharField(), required=False)
    owner_kind = serializers.ListField(child=serializers.CharField(), required=False)
    region = serializers.CharField(required=False)
    min_remaining_years = serializers.IntegerField(required=False)
    payment_method = serializers.ListField(child=serializers.CharField(), required=False)
    max_upfront_cny = serializers.CharField(required=False)
    max_royalty_rate = serializers.CharField(required=False)
    industry = serializers.CharField(required=False)
    sort = serializers.CharField(required=False)


class SavedSearchSerializer(serializers.ModelSerializer[SavedSearch]):
    query = SavedQueryOutputSerializer(read_only=True)

    class Meta:
        model = SavedSearch
        fields = ["id", "name", "query", "is_paused", "created_at", "updated_at"]


class SavedSearchCreateSerializer(StrictInputSerializer):
    """A name and the search to keep: `query` takes what GET /api/v1/search/patents/ takes."""

    name = serializers.CharField(max_length=100)
    query = SavedQuerySerializer()


class SavedSearchRenameSerializer(StrictInputSerializer):
    """The new name (the search itself is not changed: save a new one)."""

    name = serializers.CharField(max_length=100)


class SavedSearchViewSet(viewsets.ReadOnlyModelViewSet[SavedSearch]):
    """The caller's saved searches, newest first; anyone else's is a 404."""

    permission_classes = [IsAuthenticated]
    serializer_class = SavedSearchSerializer
    pagination_class = CursorPagination

    def get_queryset(self) -> QuerySet[SavedSearch]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return SavedSearch.objects.none()
        return SavedSearch.objects.visible_to(self.request.user)

    @extend_schema(
        request=SavedSearchCreateSerializer,
        responses={201: SavedSearchSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SavedSearchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = dict(data.validated_data["query"])
        if "industry" in query:
            query["industry"] = query["industry"].code
        saved = services.saved_search_create(
            actor=request_user(request), name=data.validated_data["name"], query=query
        )
        return Response(SavedSearchSerializer(saved).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SavedSearchRenameSerializer,
        responses={200: SavedSearchSerializer, **ERROR_RESPONSES},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        saved_search_id = self.get_object().pk  # anyone else's is a 404 whatever the body
        data = SavedSearchRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.saved_search_rename(
            actor=request_user(request),
            saved_search_id=saved_search_id,
            name=data.validated_data["name"],
        )
        return Response(SavedSearchSerializer(saved).data)

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.saved_search_delete(
            actor=request_user(request), saved_search_id=path_id(kwargs.get("pk"))
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: SavedSearchSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        """No alerts and no digest for this search until it is resumed."""
        saved = services.saved_search_set_paused(
            actor=request_user(request), saved_search_id=path_id(pk), is_paused=True
        )
        return Response(SavedSearchSerializer(saved).data)

    @extend_schema(request=None, responses={200: SavedSearchSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        saved = services.saved_search_set_paused(
            actor=request_user(request), saved_search_id=path_id(pk), is_paused=False
        )
        return Response(SavedSearchSerializer(saved).data)
