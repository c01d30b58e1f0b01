from django.urls import path

from backend.dashboard import apis

PROJECT = "projects/<slug:slug>/"

urlpatterns = [
    path("projects/", apis.ProjectListApi.as_view(), name="dashboard-projects"),
    path("workers/", apis.WorkersHealthApi.as_view(), name="dashboard-workers"),
    path("cases/<int:case_id>/history/", apis.CaseHistoryApi.as_view(), name="dashboard-case-history"),
    path(f"{PROJECT}summary/", apis.SummaryApi.as_view(), name="dashboard-summary"),
    path(
        f"{PROJECT}labeling-progress/", apis.LabelingProgressApi.as_view(), name="dashboard-labeling-progress"
    ),
    path(
        f"{PROJECT}grade-distribution/",
        apis.GradeDistributionApi.as_view(),
        name="dashboard-grade-distribution",
    ),
    path(f"{PROJECT}kappa-timeline/", apis.KappaTimelineApi.as_view(), name="dashboard-kappa-timeline"),
    path(f"{PROJECT}kappa-by-subset/", apis.KappaBySubsetApi.as_view(), name="dashboard-kappa-by-subset"),
    path(f"{PROJECT}confusion-matrix/", apis.ConfusionMatrixApi.as_view(), name="dashboard-confusion-matrix"),
    path(f"{PROJECT}model-registry/", apis.ModelRegistryApi.as_view(), name="dashboard-model-registry"),
    path(f"{PROJECT}label-efficiency/", apis.LabelEfficiencyApi.as_view(), name="dashboard-label-efficiency"),
    path(
        f"{PROJECT}reader-performance/",
        apis.ReaderPerformanceApi.as_view(),
        name="dashboard-reader-performance",
    ),
    path(
        f"{PROJECT}adjudication-summary/",
        apis.AdjudicationSummaryApi.as_view(),
        name="dashboard-adjudication-summary",
    ),
]
