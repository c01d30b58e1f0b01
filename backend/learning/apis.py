from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Experience, Role
from backend.common.exceptions import ApplicationError
from backend.common.inputs import JsonBooleanField, QueryInput
from backend.common.schema import MAX_ID, errors
from backend.learning import selectors, services
from backend.learning.models import AdjudicationItem, KappaSnapshot, ModelPromotion, ModelVersion, TrainingRun
from backend.learning.outputs import KappaSeriesOutput
from backend.projects.models import Project
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user, project_role_for_user
from backend.reading import services as reading_services


class ModelVersionReaderOutput(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug")
    label = serializers.CharField()

    class Meta:
        model = ModelVersion
        fields = ["id", "project", "number", "label", "status", "created_at", "promoted_at"]


class ModelVersionOutput(ModelVersionReaderOutput):
    metrics = serializers.JSONField(required=False, help_text="admins only")
    config = serializers.JSONField(required=False, help_text="admins only: the training's paths among them")
    error = serializers.CharField(required=False, help_text="admins only: why a training failed")

    class Meta(ModelVersionReaderOutput.Meta):
        fields = [*ModelVersionReaderOutput.Meta.fields, "metrics", "config", "error"]


def _project(request: Request, slug: str, role: str = Role.ADMIN) -> Project:
    return project_get_for_user(slug=slug, user=request.user, role=role)


class ModelVersionListApi(APIView):
    """The project's model versions; their metrics, config (checkpoint paths) and errors for admins only."""

    @extend_schema(operation_id="learning_model_versions", responses={200: ModelVersionOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug, role=Role.READER)
        versions = project.model_versions.select_related("project").defer(selectors.SNAPSHOT)
        is_admin = project_role_for_user(project=project, user=request.user) == Role.ADMIN
        output = ModelVersionOutput if is_admin else ModelVersionReaderOutput
        return Response(output(versions, many=True).data)


class ModelVersionPromoteApi(APIView):
    """Make a version the project's champion by hand (admins)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="learning_promote", request=None, responses={200: ModelVersionOutput, **errors(409)}
    )
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = _project(request, slug).model_versions.filter(number=number).first()
        if version is None:
            raise ApplicationError(f"No version {number}.", code="not_found", status=404)
        version = services.model_version_promote(version=version, actor=request.user)
        return Response(ModelVersionOutput(version).data)


class RollbackInput(serializers.Serializer):
    number = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="the version to bring back; default: the champion before the current one",
    )


class ModelVersionRollbackApi(APIView):
    """Bring back an earlier champion (admins): the version numbered in the body, or by default the
    champion before the current one in the promotion history (a second rollback goes further back)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="learning_rollback",
        request=RollbackInput,
        responses={200: ModelVersionOutput, **errors(409)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        data = RollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = None
        if (number := data.validated_data.get("number")) is not None:
            version = project.model_versions.filter(number=number).first()
            if version is None:
                raise ApplicationError(f"No version {number}.", code="not_found", status=404)
        version = services.model_version_rollback(project=project, version=version, actor=request.user)
        return Response(ModelVersionOutput(version).data)


class ModelPromotionOutput(serializers.ModelSerializer):
    model_version = serializers.CharField(source="version.label")
    number = serializers.IntegerField(source="version.number")
    replaced = serializers.CharField(source="replaced.label", allow_null=True, default=None)
    by = serializers.CharField(
        source="by.username", allow_null=True, default=None, help_text="null: the gate or an import"
    )

    class Meta:
        model = ModelPromotion
        fields = ["id", "kind", "model_version", "number", "replaced", "by", "at"]


class ModelPromotionListApi(APIView):
    """The registry's history: every promotion and rollback of the champion, newest first (admins)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="learning_promotions", responses={200: ModelPromotionOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        history = selectors.promotion_history(project=_project(request, slug))
        return Response(ModelPromotionOutput(history, many=True).data)


class TrainingRunOutput(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug")
    model_version = serializers.CharField(source="model_version.label", allow_null=True, default=None)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "project",
            "status",
            "trigger",
            "labels_used",
            "progress",
            "model_version",
            "worker",
            "error",
            "retry_of",
            "created_at",
            "sent_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]


class ReferenceCaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    patient_id = serializers.CharField(source="pair.patient.patient_id")
    ct_study_uid = serializers.CharField(source="pair.ct_study.study_uid")
    in_reference_set = serializers.BooleanField()
    readings = serializers.IntegerField(
        help_text="submitted readings; a case can move only while it has none"
    )


class ReferenceSetApi(APIView):
    """The project's cases and which of them form the frozen reference set; POST moves many (admins)."""

    permission_classes = [IsProjectAdmin]

    class MoveInput(serializers.Serializer):
        case_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            min_length=1,
            max_length=reading_services.MAX_REFERENCE_SET_MOVE,
        )
        in_reference_set = JsonBooleanField()

    @extend_schema(operation_id="learning_reference_set", responses={200: ReferenceCaseOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        cases = selectors.reference_set_cases(project=_project(request, slug))
        return Response(ReferenceCaseOutput(cases, many=True).data)

    @extend_schema(
        operation_id="learning_reference_set_move",
        request=MoveInput,
        responses={200: ReferenceCaseOutput(many=True), **errors(409)},
        description="Move many unread cases in or out at once, all or none: a case with a submitted "
        "reading (409 case_read) or one not in the project (404 not_found) changes nothing; the error "
        "lists their ids in case_ids.",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        data = self.MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        moved = reading_services.reference_set_update(
            project=project, **data.validated_data, actor=request.user
        )
        cases = selectors.reference_set_cases(project=project).filter(pk__in=[case.pk for case in moved])
        return Response(ReferenceCaseOutput(cases, many=True).data)


class ReferenceSetCaseApi(APIView):
    """Put an unread case into the frozen reference set or take it out (admins)."""

    permission_classes = [IsProjectAdmin]

    class Input(serializers.Serializer):
        in_reference_set = JsonBooleanField()

    @extend_schema(
        operation_id="learning_reference_set_case",
        request=Input,
        responses={200: ReferenceCaseOutput, **errors(409)},
    )
    def put(self, request: Request, slug: str, case_id: int) -> Response:
        project = _project(request, slug)
        case = project.cases.filter(pk=case_id).first()
        if case is None:
            raise ApplicationError(f"No case {case_id} in project {slug!r}.", code="not_found", status=404)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        reading_services.case_reference_set_update(
            case=case, in_reference_set=data.validated_data["in_reference_set"], actor=request.user
        )
        case = selectors.reference_set_cases(project=project).get(pk=case_id)
        return Response(ReferenceCaseOutput(case).data)


class TrainingRunListApi(APIView):
    """The project's trainings, newest first (admins); POST starts one by hand."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="learning_training_runs", responses={200: TrainingRunOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        runs = selectors.training_runs_for_project(project=_project(request, slug))[:100]
        return Response(TrainingRunOutput(runs, many=True).data)

    @extend_schema(
        operation_id="learning_training_start",
        request=None,
        responses={202: TrainingRunOutput, **errors(409)},
    )
    def post(self, request: Request, slug: str) -> Response:
        run = services.training_run_start(project=_project(request, slug), actor=request.user)
        return Response(TrainingRunOutput(run).data, status=202)


def _run(request: Request, slug: str, run_id: int) -> TrainingRun:
    run = selectors.training_runs_for_project(project=_project(request, slug)).filter(pk=run_id).first()
    if run is None:
        raise ApplicationError(f"No training run {run_id}.", code="not_found", status=404)
    return run


class TrainingRunDetailApi(APIView):
    """One training with its live progress (stage, epoch, epochs, loss)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="learning_training_run", responses={200: TrainingRunOutput})
    def get(self, request: Request, slug: str, run_id: int) -> Response:
        return Response(TrainingRunOutput(_run(request, slug, run_id)).data)


class TrainingRunRetryApi(APIView):
    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="learning_training_retry",
        request=None,
        responses={202: TrainingRunOutput, **errors(409)},
    )
    def post(self, request: Request, slug: str, run_id: int) -> Response:
        run = services.training_run_retry(run=_run(request, slug, run_id), actor=request.user)
        return Response(TrainingRunOutput(run).data, status=202)


class KappaQuery(QueryInput):
    kind = serializers.ChoiceField(choices=KappaSnapshot.Kind.choices, required=False)
    task = serializers.ChoiceField(choices=["4grade", "binary"], default="4grade")
    weighting = serializers.ChoiceField(choices=["none", "quadratic"], default="quadratic")
    subset = serializers.ChoiceField(choices=KappaSnapshot.SUBSETS, default="all")


class KappaSeriesApi(APIView):
    """Agreement over time: one series per rater pair (model vs reader or group, reader vs reader)."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(
        operation_id="learning_kappa", parameters=[KappaQuery], responses={200: KappaSeriesOutput(many=True)}
    )
    def get(self, request: Request, slug: str) -> Response:
        query = KappaQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        kind = params.pop("kind", None)
        series = selectors.kappa_series(
            project=_project(request, slug), kinds=[kind] if kind else None, **params
        )
        return Response(KappaSeriesOutput(series, many=True).data)


class AdjudicationOutput(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True, default=None)
    model_grade = serializers.IntegerField(
        allow_null=True,
        default=None,
        help_text="the champion's suggestion for the level (none on a blinded case)",
    )
    model_version = serializers.CharField(allow_null=True, default=None)
    reference_grade = serializers.IntegerField(
        allow_null=True,
        default=None,
        help_text="the level's reference label now (after a resolve: the decision)",
    )

    class Meta:
        model = AdjudicationItem
        fields = [
            "id",
            "case",
            "level",
            "reason",
            "grades",
            "status",
            "resolved_grade",
            "resolved_by",
            "note",
            "created_at",
            "resolved_at",
            "model_grade",
            "model_version",
            "reference_grade",
        ]


def _project_for_adjudication(request: Request, slug: str) -> Project:
    """The project, for its admins and its senior readers."""
    project = _project(request, slug, role=Role.READER)
    profile = getattr(request.user, "reader_profile", None)
    is_senior = profile is not None and profile.experience == Experience.SENIOR
    if not is_senior and project_role_for_user(project=project, user=request.user) != Role.ADMIN:
        raise ApplicationError(
            "Only senior readers and admins see the adjudication queue.", code="forbidden", status=403
        )
    return project


class AdjudicationListApi(APIView):
    """Levels waiting for a senior's decision (admins; seniors on the cases they have read)."""

    @extend_schema(
        operation_id="learning_adjudications",
        parameters=[OpenApiParameter("status", str, enum=["open", "resolved"])],
        responses={200: AdjudicationOutput(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project_for_adjudication(request, slug)
        status = request.query_params.get("status", AdjudicationItem.Status.OPEN)
        if status not in AdjudicationItem.Status.values:
            raise ApplicationError(f"Unknown status {status!r}.", code="invalid_status")
        items = selectors.adjudication_list_for_user(project=project, user=request.user, status=status)
        return Response(AdjudicationOutput(items, many=True).data)


class AdjudicationResolveInput(serializers.Serializer):
    grade = serializers.IntegerField(min_value=0, max_value=3)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AdjudicationResolveApi(APIView):
    @extend_schema(
        operation_id="learning_adjudication_resolve",
        request=AdjudicationResolveInput,
        responses={200: AdjudicationOutput},
    )
    def post(self, request: Request, slug: str, item_id: int) -> Response:
        project = _project(request, slug, role=Role.READER)
        item = (
            selectors.adjudication_queue_for_user(project=project, user=request.user)
            .filter(pk=item_id)
            .first()
        )
        if item is None:
            raise ApplicationError(f"No open adjudication {item_id}.", code="not_found", status=404)
        data = AdjudicationResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.adjudication_resolve(item=item, user=request.user, **data.validated_data)
        (resolved,) = selectors.adjudication_list_for_user(
            project=project, user=request.user, status=AdjudicationItem.Status.RESOLVED, item_id=item_id
        )
        return Response(AdjudicationOutput(resolved).data)
