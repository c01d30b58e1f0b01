from django.urls import path

from backend.imaging import apis

urlpatterns = [
    path("uploads/", apis.UploadApi.as_view(), name="imaging-upload"),
    path("retrieve/", apis.PacsRetrieveApi.as_view(), name="imaging-pacs-retrieve"),
    path("ingest-jobs/<int:job_id>/", apis.IngestJobApi.as_view(), name="imaging-ingest-job"),
    path("studies/", apis.StudyListApi.as_view(), name="imaging-studies"),
    path("pairs/", apis.PairListApi.as_view(), name="imaging-pairs"),
    path("pairs/<int:pair_id>/", apis.PairDetailApi.as_view(), name="imaging-pair"),
]
