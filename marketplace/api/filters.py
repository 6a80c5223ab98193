"""django-filter filter sets of the core app (invalid values give 400 with fields)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from marketplace.models import (
    Industry,
    IndustryLevel,
    Organisation,
    OrganisationKind,
    Region,
    RegionLevel,
)


def _text(queryset: QuerySet, fields: tuple[str, ...], value: str) -> QuerySet:
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": value})
    return queryset.filter(condition)


class IndustryFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=IndustryLevel.choices)
    parent = filters.CharFilter(field_name="parent_id", max_length=5)
    q = filters.CharFilter(method="search", max_length=50)

    class Meta:
        model = Industry
        fields = ["level", "parent"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _text(queryset, ("code", "name_zh", "name_en"), value.strip())


class RegionFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=RegionLevel.choices)
    parent = filters.CharFilter(field_name="parent_id", max_length=6)
    q = filters.CharFilter(method="search", max_length=50)

    class Meta:
        model = Region
        fields = ["level", "parent"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _text(queryset, ("code", "name_zh"), value.strip())


class OrganisationFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=OrganisationKind.choices)
    region = filters.CharFilter(method="in_region", max_length=6)
    q = filters.CharFilter(method="search", max_length=100)

    class Meta:
        model = Organisation
        fields = ["kind"]

    def in_region(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A province or prefecture code includes everything inside it."""
        code = value.strip()
        if code.endswith("0000"):
            return queryset.filter(region__code__startswith=code[:2])
        if code.endswith("00"):
            return queryset.filter(region__code__startswith=code[:4])
        return queryset.filter(region_id=code)

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _text(queryset, ("name", "name_en"), value.strip())
