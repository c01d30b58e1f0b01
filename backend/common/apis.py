from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.selectors import health_status

_check = inline_serializer(
    name="HealthCheck",
    fields={
        "ok": serializers.BooleanField(),
        "latency_ms": serializers.FloatField(),
        "detail": serializers.CharField(),
        "workers": serializers.ListField(child=serializers.CharField()),
    },
)


class HealthApi(APIView):
    """Database, broker and worker reachability; 200 when all are fine, 503 otherwise."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="health",
        responses={
            (200, "application/json"): inline_serializer(
                name="Health",
                fields={
                    "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
                    "checks": inline_serializer(
                        name="HealthChecks",
                        fields={"database": _check, "broker": _check, "worker": _check},
                    ),
                },
            ),
            503: None,
        },
    )
    def get(self, request: Request) -> Response:
        report = health_status()
        return Response(report.as_dict(), status=200 if report.ok else 503)
