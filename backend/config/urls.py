from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.common.apis import HealthApi
from backend.common.views import spa_index

api_patterns = [
    path("health/", HealthApi.as_view(), name="health"),
    path("auth/", include("backend.accounts.urls")),
    path("projects/", include("backend.projects.urls")),
    path("imaging/", include("backend.imaging.urls")),
    path("reading/", include("backend.reading.urls")),
    path("learning/", include("backend.learning.urls")),
    path("exports/", include("backend.exports.urls")),
    path("dashboard/", include("backend.dashboard.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("dicomweb/", include("backend.imaging.dicomweb_urls")),
    path("", spa_index, name="spa-root"),
    re_path(r"^(?P<route>login|worklist|read|dashboard|cases|adjudication)(?:/.*)?$", spa_index, name="spa"),
]
