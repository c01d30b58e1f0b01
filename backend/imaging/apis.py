from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.exceptions import ApplicationError
from backend.common.schema import errors
from backend.imaging import selectors, services
from backend.imaging.models import IngestJob, StudyPair
from backend.imaging.retrieve import pacs_retrieve_start
from backend.imaging.tasks import ingest_job
from backend.projects.permissions import IsProjectAdmin


class IngestJobOutput(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = IngestJob
        fields = [
            "id",
            "source",
            "status",
            "total_files",
            "processed_files",
            "progress",
            "stored",
            "duplicates",
            "failed",
            "errors",
            "deidentify",
            "query",
            "created_at",
            "finished_at",
        ]

    def get_progress(self, job: IngestJob) -> float:
        return round(job.processed_files / job.total_files, 3) if job.total_files else 0.0


class UploadApi(APIView):
    """Upload DICOM files or zip archives (admins, into a project they are an admin of; only a platform
    admin may leave out the project). Small uploads are ingested at once (201); large ones are
    queued for a worker (202): follow the job at /api/imaging/ingest-jobs/<id>/."""

    permission_classes = [IsProjectAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="imaging_upload",
        request={
            "multipart/form-data": inline_serializer(
                name="UploadInput",
                fields={
                    "files": serializers.ListField(child=serializers.FileField(), min_length=1),
                    "project": serializers.SlugField(
                        help_text="a project you are an admin of (a platform admin may leave it out)"
                    ),
                    "deidentify": serializers.BooleanField(required=False),
                },
            )
        },
        responses={201: IngestJobOutput, 202: IngestJobOutput, **errors(404, 413)},
    )
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("files")
        if not files:
            raise ApplicationError("Send one or more files in the 'files' field.", code="no_files")
        project = selectors.upload_project_for_user(user=request.user, slug=request.data.get("project"))
        deidentify = request.data.get("deidentify")
        staging = services.staging_dir_create()
        size = services.upload_stage(files=files, staging=staging)
        job = services.ingest_job_create(
            source=IngestJob.Source.UPLOAD,
            project=project,
            user=request.user,
            staging_dir=staging,
            deidentify_data=None
            if deidentify in (None, "")
            else str(deidentify).lower() in {"1", "true", "yes"},
        )
        if size > settings.INGEST_ASYNC_BYTES:
            transaction.on_commit(lambda: ingest_job.delay(job.pk))
            return Response(IngestJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
        services.ingest_job_run(job=job)
        return Response(IngestJobOutput(job).data, status=status.HTTP_201_CREATED)


class PacsRetrieveInput(serializers.Serializer):
    project = serializers.SlugField(help_text="a project you are an admin of")
    by = serializers.ChoiceField(choices=["accession_number", "patient_id"], help_text="what value names")
    value = serializers.RegexField(
        r"^[^\\*?\x00]{1,64}$", help_text="an exact accession number or patient id (no wildcards)"
    )


class PacsRetrieveApi(APIView):
    """Retrieve studies from the PACS (PACS_PEER) by accession number or patient id: C-FIND, then C-GET,
    then ingest into the project as one job (202): follow it at /api/imaging/ingest-jobs/<id>/."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="imaging_pacs_retrieve",
        request=PacsRetrieveInput,
        responses={202: IngestJobOutput, **errors(400, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = PacsRetrieveInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = selectors.upload_project_for_user(user=request.user, slug=data.validated_data["project"])
        query = {data.validated_data["by"]: data.validated_data["value"]}
        job = pacs_retrieve_start(project=project, user=request.user, **query)
        return Response(IngestJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class IngestJobApi(APIView):
    @extend_schema(operation_id="imaging_ingest_job", responses={200: IngestJobOutput})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(IngestJobOutput(selectors.ingest_job_get(user=request.user, job_id=job_id)).data)


class StudyOutput(serializers.Serializer):
    study_uid = serializers.CharField()
    patient_id = serializers.CharField(source="patient.patient_id")
    modality = serializers.CharField()
    study_date = serializers.DateField(allow_null=True)
    description = serializers.CharField()


class StudyListApi(APIView):
    @extend_schema(operation_id="imaging_studies", responses={200: StudyOutput(many=True)})
    def get(self, request: Request) -> Response:
        studies = selectors.study_queryset_for_user(user=request.user).order_by(
            "patient__patient_id", "study_date"
        )
        return Response(StudyOutput(studies[:1000], many=True).data)


class PairOutput(serializers.ModelSerializer):
    patient_id = serializers.CharField(source="patient.patient_id")
    ct_study_uid = serializers.CharField(source="ct_study.study_uid")
    mr_study_uid = serializers.CharField(source="mr_study.study_uid", allow_null=True, default=None)

    class Meta:
        model = StudyPair
        fields = ["id", "patient_id", "ct_study_uid", "mr_study_uid", "day_gap", "set_by_admin", "updated_at"]


class PairListApi(APIView):
    @extend_schema(operation_id="imaging_pairs", responses={200: PairOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(PairOutput(selectors.pair_list_for_user(user=request.user), many=True).data)


class PairUpdateInput(serializers.Serializer):
    mr_study_uid = serializers.CharField(allow_null=True)


class PairDetailApi(APIView):
    """Pair a CT study with another MR study, or with none (an admin of every project of the CT study)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="imaging_pair_update",
        request=PairUpdateInput,
        responses={200: PairOutput, **errors(409)},
    )
    def patch(self, request: Request, pair_id: int) -> Response:
        data = PairUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = selectors.pair_get_for_admin(user=request.user, pair_id=pair_id)
        mr_uid = data.validated_data["mr_study_uid"]
        mr_study = selectors.study_get(user=request.user, study_uid=mr_uid) if mr_uid else None
        pair = services.study_pair_set(pair=pair, mr_study=mr_study, actor=request.user)
        return Response(PairOutput(pair).data)
