"""Results to the PACS, for project admins: send a case's SRs now, and see every push's status."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.common.exceptions import ApplicationError
from backend.common.inputs import QueryInput
from backend.common.schema import errors
from backend.exports import push, selectors
from backend.exports.models import ResultPush
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user, project_list_for_user
from backend.reading.models import Case

MAX_LISTED = 500


class ResultPushOutput(serializers.ModelSerializer):
    reader = serializers.CharField(source="assignment.reader.username")

    class Meta:
        model = ResultPush
        fields = [
            "id",
            "case",
            "reader",
            "destination",
            "trigger",
            "status",
            "attempts",
            "last_error",
            "sop_uid",
            "created_at",
            "updated_at",
            "sent_at",
        ]


class CaseResultPushApi(APIView):
    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="exports_case_push",
        request=None,
        responses={202: ResultPushOutput(many=True), **errors(404, 409)},
        description="Send the case's SRs (one per submitted reading) to RESULTS_DESTINATION now; a worker "
        "sends them and retries with backoff. 409 without a destination or a submitted reading.",
    )
    def post(self, request: Request, case_id: int) -> Response:
        projects = project_list_for_user(user=request.user, role=Role.ADMIN)
        case = Case.objects.filter(pk=case_id, project__in=projects).first()
        if case is None:
            raise ApplicationError(f"No case {case_id}.", code="not_found", status=404)
        pushes = push.result_push_queue(case=case, trigger=ResultPush.Trigger.ADMIN, actor=request.user)
        return Response(ResultPushOutput(pushes, many=True).data, status=status.HTTP_202_ACCEPTED)


class ResultPushFilter(QueryInput):
    status = serializers.ChoiceField(choices=ResultPush.Status.choices, required=False)


class ProjectResultPushesApi(APIView):
    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="exports_result_pushes",
        parameters=[OpenApiParameter("status", str, enum=ResultPush.Status.values, required=False)],
        responses={200: ResultPushOutput(many=True)},
        description=f"The project's SR pushes to the PACS, newest first (at most {MAX_LISTED}): status, "
        "attempts and the destination's last answer.",
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        params = ResultPushFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        pushes = selectors.result_pushes_for_project(project=project, **params.validated_data)[:MAX_LISTED]
        return Response(ResultPushOutput(pushes, many=True).data)
