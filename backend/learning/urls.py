from django.urls import path

from backend.learning import apis

urlpatterns = [
    path(
        "projects/<slug:slug>/model-versions/", apis.ModelVersionListApi.as_view(), name="learning-versions"
    ),
    path(
        "projects/<slug:slug>/model-versions/<int:number>/promote/",
        apis.ModelVersionPromoteApi.as_view(),
        name="learning-promote",
    ),  # fmt: skip
    path("projects/<slug:slug>/rollback/", apis.ModelVersionRollbackApi.as_view(), name="learning-rollback"),
]
