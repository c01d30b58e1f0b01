from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsProjectAdmin
from backend.common.exceptions import ApplicationError
from backend.learning import services
from backend.learning.models import ModelVersion
from backend.projects.selectors import project_list_for_user


class ModelVersionOutput(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug")
    label = serializers.CharField()

    class Meta:
        model = ModelVersion
        fields = ["id", "project", "number", "label", "status", "metrics", "config", "error", "created_at",
                  "promoted_at"]  # fmt: skip


def _project(request: Request, slug: str):
    project = project_list_for_user(user=request.user).filter(slug=slug).first()
    if project is None:
        raise ApplicationError(f"No project {slug!r} in your projects.", code="not_found", status=404)
    return project


class ModelVersionListApi(APIView):
    @extend_schema(operation_id="learning_model_versions", responses={200: ModelVersionOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        versions = _project(request, slug).model_versions.select_related("project")
        return Response(ModelVersionOutput(versions, many=True).data)


class ModelVersionPromoteApi(APIView):
    """Make a version the project's champion by hand (admins)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="learning_promote", request=None, responses={200: ModelVersionOutput})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = _project(request, slug).model_versions.filter(number=number).first()
        if version is None:
            raise ApplicationError(f"No version {number}.", code="not_found", status=404)
        return Response(ModelVersionOutput(services.model_version_promote(version=version)).data)


class ModelVersionRollbackApi(APIView):
    """Bring back the champion before the current one (admins)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="learning_rollback", request=None, responses={200: ModelVersionOutput})
    def post(self, request: Request, slug: str) -> Response:
        return Response(
            ModelVersionOutput(services.model_version_rollback(project=_project(request, slug))).data
        )
