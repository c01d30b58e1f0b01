"""The OpenAPI schema's error answers: every operation documents the error body for each status it can
answer, so that a client (and schemathesis, in CI) knows every answer it may get.

Statuses that follow from how the platform works are added to every operation that can answer them:
400 (validation, and BadInputMiddleware's NUL characters, oversized or too deeply nested bodies),
401 (a missing, wrong or expired token), 403 (a role the operation needs, or a session request
without its CSRF token), 404 (an object in the path that does not exist or is not yours) and 415 (a
body in a media type the operation does not parse). The rest (409, 413, 429, ...) each view declares
with `errors(...)` beside its answers: `responses={200: CaseOutput, **errors(409)}`.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

DESCRIPTIONS = {
    400: "The request is not valid: `fields` says what is wrong with which field.",
    401: "Not signed in, or the token is wrong or expired.",
    403: "Signed in, without the role this needs (or a session request without its CSRF token).",
    404: "No such object, or not in your projects.",
    409: "The object's state does not allow this now (the error's code says why).",
    413: "The upload is too large.",
    415: "The body's media type is not one this operation reads.",
    429: "Too many requests: failed logins for this username (locked out for a while), or a rate limit.",
    503: "A part the answer needs cannot run now (the error's code says which).",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MAX_ID = 2**63 - 1  # the largest primary key (a bigint): a larger id in a body is refused, not a server error
MAX_COUNT = 2**31 - 1  # the largest value of a PositiveIntegerField (an integer column in PostgreSQL)


class ErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(help_text="what went wrong, for programs: not_found, validation_error, ...")
    message = serializers.CharField(help_text="what went wrong, for people")
    fields = serializers.DictField(required=False, help_text="validation errors: per field, what is wrong")


class ErrorOutput(serializers.Serializer):
    """The one error body of the API; some errors add keys of their own beside code and message."""

    error = ErrorDetailOutput()


def errors(*statuses: int) -> dict:
    """Error answers for an operation's `responses`: {409: the error body, ...}."""
    return {
        (status, "application/json"): OpenApiResponse(ErrorOutput, description=DESCRIPTIONS[status])
        for status in statuses
    }


# What DRF's CharField takes: no NUL character, and (unless it may be blank) something besides the
# whitespace it trims; patterns, so that a client knows "\u0000" or "  " is refused before sending it.
# The whitespace is spelt out as Python's str.strip() knows it (29 characters, "\x1d" among them),
# since a pattern's \s means something else in JavaScript's regular expressions.
TRIMMED = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
NO_NUL = "^[^\\x00]*$"
NOT_EMPTY = "^[^\\x00]+$"
NOT_BLANK = f"^[^\\x00]*[^{TRIMMED}\\x00][^\\x00]*$"


class ApiSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give (see the module), the
    strings a request may carry, and raw request bodies (STOW-RS) marked required."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and type(field) is serializers.CharField and "pattern" not in schema:
            if field.allow_blank:
                schema["pattern"] = NO_NUL
            else:
                schema["pattern"] = NOT_BLANK if field.trim_whitespace else NOT_EMPTY
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        body = operation.get("requestBody", {})
        if body and all(m.get("schema", {}).get("format") == "binary" for m in body["content"].values()):
            body["required"] = True  # bytes to store: no body, nothing to do (400)
        responses = operation.setdefault("responses", {})
        error = {"application/json": {"schema": self.resolve_serializer(ErrorOutput, "response").ref}}
        for status in self._error_statuses(path, method, operation):
            responses.setdefault(str(status), {"description": DESCRIPTIONS[status], "content": error})
        return operation

    def _error_statuses(self, path: str, method: str, operation: dict) -> list[int]:
        statuses = [400]
        if self.view.get_authenticators():
            statuses.append(401)
            public = all(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
            if not public or method in UNSAFE:  # the CSRF check of a session request
                statuses.append(403)
        if "{" in path:
            statuses.append(404)
        if "requestBody" in operation:
            statuses.append(415)
        return statuses
