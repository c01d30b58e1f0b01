from django.urls import path

from backend.exports import apis, push_apis

urlpatterns = [
    path(
        "projects/<slug:slug>/annotations.csv",
        apis.AnnotationCsvApi.as_view(),
        name="exports-annotations-csv",
    ),
    path(
        "projects/<slug:slug>/annotations.json",
        apis.AnnotationJsonApi.as_view(),
        name="exports-annotations-json",
    ),
    path("projects/<slug:slug>/coco.json", apis.CocoApi.as_view(), name="exports-coco"),
    path(
        "projects/<slug:slug>/model-metrics.csv",
        apis.ModelMetricsCsvApi.as_view(),
        name="exports-model-metrics",
    ),
    path("projects/<slug:slug>/audit.csv", apis.AuditCsvApi.as_view(), name="exports-audit-csv"),
    path(
        "projects/<slug:slug>/reader-performance.csv",
        apis.ReaderPerformanceCsvApi.as_view(),
        name="exports-reader-performance",
    ),
    path("cases/<int:case_id>/sr.dcm", apis.CaseStructuredReportApi.as_view(), name="exports-case-sr"),
    path("cases/<int:case_id>/push/", push_apis.CaseResultPushApi.as_view(), name="exports-case-push"),
    path(
        "projects/<slug:slug>/pushes/",
        push_apis.ProjectResultPushesApi.as_view(),
        name="exports-result-pushes",
    ),
]
