from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.common.exceptions import ApplicationError
from backend.common.schema import errors
from backend.imaging.dicom.header import uid_valid
from backend.imaging.models import Study
from backend.learning.services.prediction import study_predict, upload_predict
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user


class PredictedLevelOutput(serializers.Serializer):
    level = serializers.CharField()
    grade = serializers.IntegerField(help_text="Kang grade 0-3, the most probable")
    probabilities = serializers.ListField(child=serializers.FloatField(), help_text="grades 0-3")
    binary_probability = serializers.FloatField(help_text="P(grade >= 2)")
    entropy = serializers.FloatField(help_text="uncertainty of the four-grade distribution (nats)")
    box = serializers.ListField(
        child=serializers.FloatField(), help_text="[x0, y0, x1, y1], CT sagittal reformat"
    )
    box_score = serializers.FloatField(help_text="0 when the box was interpolated from its neighbours")
    canal_ap_mm = serializers.FloatField(
        allow_null=True, help_text="the model's reading of the canal's antero-posterior diameter (mm)"
    )


class PredictionOutput(serializers.Serializer):
    model_version = serializers.CharField()
    study_uid = serializers.CharField()
    computed = serializers.BooleanField(help_text="false: the champion had read this study already")
    seconds = serializers.FloatField()
    levels = PredictedLevelOutput(many=True)


class PredictionApi(APIView):
    """The project's champion on one CT study, for outside callers (admins of the project, by token):
    a StudyInstanceUID already stored in the project (JSON `{"study_uid": ...}`), or the study's DICOM
    files or zips (multipart `files`), stored in the project first as an upload is. Synchronous;
    rate-limited per user (`PREDICT_RATE`, default 120/hour)."""

    permission_classes = [IsProjectAdmin]
    parser_classes = [JSONParser, MultiPartParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "predict"

    @extend_schema(
        operation_id="learning_predict",
        request={
            "application/json": inline_serializer(
                name="PredictStudyInput", fields={"study_uid": serializers.CharField(max_length=64)}
            ),
            "multipart/form-data": inline_serializer(
                name="PredictUploadInput",
                fields={"files": serializers.ListField(child=serializers.FileField(), min_length=1)},
            ),
        },
        responses={200: PredictionOutput, **errors(404, 409, 413, 429, 503)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        files = request.FILES.getlist("files")
        if files:
            result = upload_predict(project=project, files=files, user=request.user)
        else:
            uid = request.data.get("study_uid") if isinstance(request.data, dict) else None
            if not isinstance(uid, str) or not uid.strip():
                raise ApplicationError("Send a study_uid (JSON) or the study's files (multipart 'files').")
            if not uid_valid(uid.strip()):
                raise ApplicationError(
                    "study_uid is not a DICOM UID (digits and dots, at most 64 characters).",
                    code="invalid_uid",
                )
            study = Study.objects.filter(study_uid=uid.strip(), projects=project).first()
            if study is None:
                raise ApplicationError(
                    f"No study {uid[:64]!r} in this project.", code="not_found", status=404
                )
            result = study_predict(project=project, study=study)
        return Response(PredictionOutput(result).data)
