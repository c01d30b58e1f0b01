from django.urls import path

from backend.learning import apis, predict_apis

urlpatterns = [
    path(
        "projects/<slug:slug>/model-versions/", apis.ModelVersionListApi.as_view(), name="learning-versions"
    ),
    path(
        "projects/<slug:slug>/model-versions/<int:number>/promote/",
        apis.ModelVersionPromoteApi.as_view(),
        name="learning-promote",
    ),
    path("projects/<slug:slug>/rollback/", apis.ModelVersionRollbackApi.as_view(), name="learning-rollback"),
    path(
        "projects/<slug:slug>/promotions/", apis.ModelPromotionListApi.as_view(), name="learning-promotions"
    ),
]
urlpatterns += [
    path(
        "projects/<slug:slug>/training-runs/",
        apis.TrainingRunListApi.as_view(),
        name="learning-training-runs",
    ),
    path(
        "projects/<slug:slug>/training-runs/<int:run_id>/",
        apis.TrainingRunDetailApi.as_view(),
        name="learning-training-run",
    ),
    path(
        "projects/<slug:slug>/training-runs/<int:run_id>/retry/",
        apis.TrainingRunRetryApi.as_view(),
        name="learning-training-retry",
    ),
    path(
        "projects/<slug:slug>/reference-set/", apis.ReferenceSetApi.as_view(), name="learning-reference-set"
    ),
    path(
        "projects/<slug:slug>/reference-set/<int:case_id>/",
        apis.ReferenceSetCaseApi.as_view(),
        name="learning-reference-set-case",
    ),
    path("projects/<slug:slug>/kappa/", apis.KappaSeriesApi.as_view(), name="learning-kappa"),
    path(
        "projects/<slug:slug>/adjudications/",
        apis.AdjudicationListApi.as_view(),
        name="learning-adjudications",
    ),
    path(
        "projects/<slug:slug>/adjudications/<int:item_id>/resolve/",
        apis.AdjudicationResolveApi.as_view(),
        name="learning-adjudication-resolve",
    ),
]
urlpatterns += [
    path("projects/<slug:slug>/predict/", predict_apis.PredictionApi.as_view(), name="learning-predict"),
]
