from django.urls import path

from backend.reading import apis

urlpatterns = [
    path("worklist/", apis.WorklistApi.as_view(), name="reading-worklist"),
    path("cases/<int:case_id>/", apis.CaseDetailApi.as_view(), name="reading-case"),
    path("cases/<int:case_id>/levels/<str:level>/", apis.LevelAnnotationApi.as_view(), name="reading-level"),
    path(
        "cases/<int:case_id>/level-positions/",
        apis.LevelPositionHistoryApi.as_view(),
        name="reading-level-position-history",
    ),
    path(
        "cases/<int:case_id>/levels/<str:level>/position/",
        apis.LevelPositionApi.as_view(),
        name="reading-level-position",
    ),
    path("cases/<int:case_id>/submit/", apis.SubmitApi.as_view(), name="reading-submit"),
    path("projects/<slug:slug>/allocation/", apis.AllocationApi.as_view(), name="reading-allocation"),
    path("projects/<slug:slug>/labels/import/", apis.LabelImportApi.as_view(), name="reading-labels-import"),
]
