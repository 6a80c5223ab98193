"""API for bulk imports: upload a CSV/XLSX portfolio, poll its progress, get the template."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from openpyxl import Workbook
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace import permissions
from marketplace.api.pagination import CursorPagination
from marketplace.api.views import ERROR_RESPONSES
from marketplace.models import ImportJob, User
from marketplace.patents.spreadsheets import COLUMNS, template_rows
from marketplace.services.imports import import_job_create


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "organisation",
            "file_name",
            "file_format",
            "all_or_nothing",
            "status",
            "phase",
            "progress",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "error_count",
            "errors",
            "ignored_columns",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, job: ImportJob) -> float:
        if job.phase == "done":
            return 1.0
        if not job.total_rows:
            return 0.0
        return round(min(job.processed_rows / job.total_rows, 1.0), 3)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportUploadSerializer(serializers.Serializer[Any]):
    organisation = serializers.IntegerField(min_value=1)
    file = serializers.FileField()
    all_or_nothing = serializers.BooleanField(default=False)


class TemplateQuerySerializer(serializers.Serializer[Any]):
    file_format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")
    language = serializers.ChoiceField(choices=["zh", "en"], default="zh")


class ImportJobViewSet(viewsets.ReadOnlyModelViewSet[ImportJob]):
    """Imports of the caller's organisations (all of them for reviewers)."""

    serializer_class = ImportJobSerializer
    pagination_class = CursorPagination

    def get_queryset(self) -> QuerySet[ImportJob]:
        return ImportJob.objects.visible_to(self.request.user)

    def get_permissions(self) -> list[Any]:
        if self.action == "template":
            return [AllowAny()]
        return list(super().get_permissions())

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={202: ImportJobSerializer, 413: ERROR_RESPONSES[400], **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upload a file; it is checked now and imported on the `import` queue."""
        # A user of no organisation may import nothing: refused before the upload is read.
        permissions.check_import(request.user)
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        assert isinstance(request.user, User)
        job = import_job_create(
            actor=request.user,
            organisation_id=data.validated_data["organisation"],
            upload=upload,
            file_name=upload.name or "upload",
            size=upload.size or 0,
            all_or_nothing=data.validated_data["all_or_nothing"],
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("file_format", str, enum=["csv", "xlsx"]),
            OpenApiParameter("language", str, enum=["zh", "en"]),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(bytes, description="file_format=csv (default)"),
            (200, XLSX): OpenApiResponse(bytes, description="file_format=xlsx"),
        },
    )
    @action(detail=False, methods=["get"])
    def template(self, request: Request) -> HttpResponse:
        """The import template: the columns (Chinese or English headers) and an example row."""
        query = TemplateQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        headers, example = template_rows(query.validated_data["language"])
        if query.validated_data["file_format"] == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(headers)
            writer.writerow(example)
            response = HttpResponse(
                "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="patent-import-template.csv"'
            return response
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "patents"
        sheet.append(headers)
        sheet.append(example)
        notes = workbook.create_sheet("columns")
        notes.append(["column (zh)", "column (en)", "required", "description"])
        for column in COLUMNS:
            notes.append(
                [
                    column.header_zh,
                    column.header_en,
                    "yes" if column.required else "",
                    column.description,
                ]
            )
        output = io.BytesIO()
        workbook.save(output)
        response = HttpResponse(
            output.getvalue(),
            content_type=XLSX,
        )
        response["Content-Disposition"] = 'attachment; filename="patent-import-template.xlsx"'
        return response

    parser_classes = [MultiPartParser]
