"""Exports for project admins: annotations (CSV, JSON), ROI boxes (COCO), model metrics (CSV), DICOM SR."""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.common.inputs import QueryInput
from backend.exports import formats, selectors
from backend.exports.structured_report import structured_report_bytes
from backend.projects.models import AuditAction, Project
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user, project_list_for_user
from backend.projects.services import audit_record

CSV = "text/csv"
DICOM = "application/dicom"


class FileRenderer(BaseRenderer):
    """Lets an Accept of text/csv or application/dicom through DRF's negotiation; errors stay JSON."""

    media_type = "*/*"
    format = "file"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data) if data is not None else b""


class ExportApi(APIView):
    permission_classes = [IsProjectAdmin]
    renderer_classes = [JSONRenderer, FileRenderer]

    def finalize_response(self, request: Request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "exception", False):
            response.content_type = "application/json"  # the error body, whatever Accept or ?format= asked
        return response


def _admin_project(request: Request, slug: str):
    return project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)


def _download_record(request: Request, project: Project, filename: str, **details) -> None:
    """Every export handed out is audited: who took which file of the project, and when."""
    audit_record(
        actor=request.user,
        action=AuditAction.EXPORT_DOWNLOAD,
        project=project,
        details={"export": filename, **details},
    )


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class AnnotationFilter(QueryInput):
    status = serializers.ChoiceField(choices=list(selectors.ANNOTATION_STATUSES), required=False)


STATUS_PARAM = OpenApiParameter(
    "status",
    str,
    enum=list(selectors.ANNOTATION_STATUSES),
    required=False,
    description="submitted: only levels of submitted readings (default: drafts too)",
)


def _annotation_rows(request: Request, slug: str):
    params = AnnotationFilter(data=request.query_params)
    params.is_valid(raise_exception=True)
    project = _admin_project(request, slug)
    status = params.validated_data.get("status")
    return project, status, selectors.annotation_export_rows(project=project, status=status)


class AnnotationCsvApi(ExportApi):
    @extend_schema(
        operation_id="exports_annotations_csv",
        parameters=[STATUS_PARAM],
        responses={(200, CSV): OpenApiTypes.STR},
        description="Every level annotation of the project with its provenance, streamed as CSV.",
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project, status, rows = _annotation_rows(request, slug)
        stream = formats.csv_stream(
            columns=formats.annotation_csv_columns(selectors.ANNOTATION_COLUMNS),
            rows=formats.annotation_csv_rows(rows),
        )
        response = StreamingHttpResponse(stream, content_type=f"{CSV}; charset=utf-8")
        _download_record(request, project, "annotations.csv", status=status)
        return _attachment(response, f"{project.slug}-annotations.csv")


class AnnotationJsonApi(ExportApi):
    @extend_schema(
        operation_id="exports_annotations_json",
        parameters=[STATUS_PARAM],
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
        description='{"project", "status", "columns", "annotations": [...]}, streamed.',
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project, status, rows = _annotation_rows(request, slug)
        head = {"project": project.slug, "status": status, "columns": list(selectors.ANNOTATION_COLUMNS)}
        stream = formats.json_stream(head=head, key="annotations", items=rows)
        response = StreamingHttpResponse(stream, content_type="application/json")
        _download_record(request, project, "annotations.json", status=status)
        return _attachment(response, f"{project.slug}-annotations.json")


class CocoApi(ExportApi):
    @extend_schema(
        operation_id="exports_coco",
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
        description="ROI boxes of submitted readings as COCO detection JSON: one image per case (its CT "
        "mid-sagittal reformat), categories are the six levels, the grade is an attribute.",
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        project = _admin_project(request, slug)
        document = formats.coco_document(
            data=selectors.coco_export_data(project=project), spacing_mm=selectors.REFORMAT_SPACING_MM
        )
        response = HttpResponse(JSONRenderer().render(document), content_type="application/json")
        _download_record(request, project, "coco.json")
        return _attachment(response, f"{project.slug}-coco.json")


class ModelMetricsCsvApi(ExportApi):
    @extend_schema(
        operation_id="exports_model_metrics_csv",
        responses={(200, CSV): OpenApiTypes.STR},
        description="One row per model version; nested metrics flattened with dots (test.kappa_quadratic).",
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project = _admin_project(request, slug)
        columns, rows = selectors.model_metric_rows(project=project)
        response = StreamingHttpResponse(
            formats.csv_stream(columns=columns, rows=rows), content_type=f"{CSV}; charset=utf-8"
        )
        _download_record(request, project, "model-metrics.csv")
        return _attachment(response, f"{project.slug}-model-metrics.csv")


class ReaderPerformanceCsvApi(ExportApi):
    @extend_schema(
        operation_id="exports_reader_performance_csv",
        responses={(200, CSV): OpenApiTypes.STR},
        description="Each reader's and each experience group's accuracy, macro F1 and kappas against the "
        "reference labels with bootstrap 95% intervals: one row per scope (all, reference_set), rater and "
        "task (4grade, binary).",
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project = _admin_project(request, slug)
        rows = selectors.reader_performance_rows(project=project)
        response = StreamingHttpResponse(
            formats.csv_stream(columns=selectors.READER_PERFORMANCE_COLUMNS, rows=rows),
            content_type=f"{CSV}; charset=utf-8",
        )
        _download_record(request, project, "reader-performance.csv")
        return _attachment(response, f"{project.slug}-reader-performance.csv")


class ReportFilter(QueryInput):
    reader = serializers.CharField(
        required=False,
        max_length=150,
        help_text="username whose submitted reading to report; default: the most recently submitted",
    )


class CaseStructuredReportApi(ExportApi):
    @extend_schema(
        operation_id="exports_case_sr",
        parameters=[ReportFilter],
        responses={(200, DICOM): OpenApiTypes.BINARY},
        description="The case's grades as a DICOM Comprehensive SR (TID 1500) in the CT study.",
    )
    def get(self, request: Request, case_id: int) -> HttpResponse:
        params = ReportFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        reading = selectors.reading_for_report(
            case_id=case_id,
            reader=params.validated_data.get("reader"),
            projects=project_list_for_user(user=request.user, role=Role.ADMIN),
        )
        response = HttpResponse(structured_report_bytes(reading=reading), content_type=DICOM)
        _download_record(
            request,
            reading.case.project,
            "sr.dcm",
            case_id=case_id,
            reader=reading.assignment.reader.username,
        )
        return _attachment(response, f"case-{case_id}-{reading.assignment.reader.username}-sr.dcm")


class AuditFilter(QueryInput):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)


class AuditCsvApi(ExportApi):
    @extend_schema(
        operation_id="exports_audit_csv",
        parameters=[OpenApiParameter("action", str, enum=AuditAction.values, required=False)],
        responses={(200, CSV): OpenApiTypes.STR},
        description="The project's audit (GET /api/projects/<slug>/audit/) as CSV, newest first; "
        "details as JSON. The download itself is audited too.",
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        params = AuditFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        project = _admin_project(request, slug)
        action = params.validated_data.get("action")
        _download_record(request, project, "audit.csv", action=action)
        rows = selectors.audit_export_rows(project=project, action=action)
        response = StreamingHttpResponse(
            formats.csv_stream(columns=selectors.AUDIT_COLUMNS, rows=rows),
            content_type=f"{CSV}; charset=utf-8",
        )
        return _attachment(response, f"{project.slug}-audit.csv")
