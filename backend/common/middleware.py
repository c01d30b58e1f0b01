"""Hostile input to the API answered 400 with the usual error body, not a server error or Django's HTML."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse

from backend.common.exceptions import error_body

API_PREFIXES = ("/api/", "/dicomweb/")
logger = logging.getLogger(__name__)


def _bad_request(code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code=code, message=message), status=400)


class BadInputMiddleware:
    """On API paths: refuses NUL characters in the path and the query string (PostgreSQL text cannot
    hold them), turns what the views raise on an oversized, malformed or too deeply nested body into
    the error body, and answers a path that matches no route (`/api/reading/cases/abc/`) with the
    error body rather than Django's HTML page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIXES):
            try:
                if _has_nul(request):
                    return _bad_request("nul_character", "The path or query string holds a NUL character.")
            except SuspiciousOperation as exc:  # too many query fields
                return _refused(request, exc)
        response = self.get_response(request)
        if response.status_code == 404 and _is_html(response) and request.path.startswith(API_PREFIXES):
            return JsonResponse(error_body(code="not_found", message="No such resource."), status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIXES):
            return None
        return _refused(request, exception)


def _refused(request: HttpRequest, exception: Exception) -> HttpResponse | None:
    if isinstance(exception, RequestDataTooBig):
        return _bad_request(
            "request_too_large",
            f"The request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (files aside).",
        )
    if isinstance(exception, SuspiciousOperation):
        logging.getLogger(f"django.security.{type(exception).__name__}").error(str(exception))
        return _bad_request("suspicious_request", "The request was refused as suspicious.")
    if isinstance(exception, RecursionError):
        logger.warning("RecursionError on %s %s", request.method, request.path, exc_info=exception)
        return _bad_request("too_deeply_nested", "The request body nests too deeply.")
    return None


def _has_nul(request: HttpRequest) -> bool:
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
    )


def _is_html(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("text/html")
