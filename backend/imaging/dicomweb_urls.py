from django.urls import path

from backend.imaging import dicomweb as views

STUDY, SERIES, INSTANCE = "studies/<str:study>", "series/<str:series>", "instances/<str:instance>"
urlpatterns = [
    path("studies", views.StudiesView.as_view(), name="qido-studies"),
    path(STUDY, views.StudyView.as_view(), name="wado-study"),
    path(f"{STUDY}/metadata", views.MetadataView.as_view(), name="wado-study-metadata"),
    path(f"{STUDY}/series", views.StudySeriesView.as_view(), name="qido-series"),
    path(f"{STUDY}/{SERIES}", views.SeriesView.as_view(), name="wado-series"),
    path(f"{STUDY}/{SERIES}/metadata", views.MetadataView.as_view(), name="wado-series-metadata"),
    path(f"{STUDY}/{SERIES}/instances", views.SeriesInstancesView.as_view(), name="qido-instances"),
    path(f"{STUDY}/{SERIES}/{INSTANCE}", views.InstanceView.as_view(), name="wado-instance"),
    path(
        f"{STUDY}/{SERIES}/{INSTANCE}/metadata", views.MetadataView.as_view(), name="wado-instance-metadata"
    ),
    path(f"{STUDY}/{SERIES}/{INSTANCE}/rendered", views.RenderedView.as_view(), name="wado-rendered"),
    path(f"{STUDY}/{SERIES}/{INSTANCE}/frames/<str:frames>", views.FramesView.as_view(), name="wado-frames"),
    path(
        f"{STUDY}/{SERIES}/{INSTANCE}/frames/<str:frames>/rendered",
        views.RenderedView.as_view(),
        name="wado-frame-rendered",
    ),
]
