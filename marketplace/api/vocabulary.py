"""Search vocabulary as public reference data: the synonym groups and the bilingual term list
that queries use (read-only; staff edit them in the admin or import a file)."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import AllowAny

from marketplace.models import SynonymGroup, TermTranslation


class SynonymGroupSerializer(serializers.ModelSerializer[SynonymGroup]):
    class Meta:
        model = SynonymGroup
        fields = ["key", "terms", "source", "note", "updated_at"]


class TermTranslationSerializer(serializers.ModelSerializer[TermTranslation]):
    class Meta:
        model = TermTranslation
        fields = ["term_en", "term_zh", "sources", "updated_at"]


class SynonymGroupViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[SynonymGroup]):
    """Synonyms and abbreviations a query treats as one term (锂电池 / 锂离子电池 / lithium-ion
    battery), with their source."""

    permission_classes = [AllowAny]
    queryset = SynonymGroup.objects.all()
    serializer_class = SynonymGroupSerializer
    pagination_class = None


class TermTranslationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[TermTranslation]):
    """English and Chinese technical terms that a query in one language also looks for in the
    other (battery ↔ 电池), each citing the shipped IPC or GB/T 4754 rows that hold both."""

    permission_classes = [AllowAny]
    queryset = TermTranslation.objects.all()
    serializer_class = TermTranslationSerializer
    pagination_class = None
