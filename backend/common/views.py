from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse


def spa_index(request: HttpRequest, **kwargs) -> HttpResponse:
    """The browser app's shell; its router decides what to show for the path."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.is_file():
        return HttpResponse(
            "The frontend is not built. Run `make frontend` (or `make run`).",
            status=503,
            content_type="text/plain",
        )
    response = FileResponse(index.open("rb"), content_type="text/html")
    response["Cache-Control"] = "no-cache"
    return response
