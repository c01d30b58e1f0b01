from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.common.exceptions import ApplicationError
from backend.common.inputs import QueryInput, StrictLimitOffsetPagination
from backend.common.levels import LEVELS
from backend.common.schema import MAX_COUNT, errors
from backend.projects.models import Allocation
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user
from backend.reading import allocation, label_import, selectors, services, worklist
from backend.reading.level_positions import level_position_correct, level_positions_history
from backend.reading.measurements import MEASURES, torg_pavlov_ratio
from backend.reading.models import LevelAnnotation

LEVEL_PARAMETER = OpenApiParameter(
    "level",
    str,
    OpenApiParameter.PATH,
    enum=[level.replace("/", "-") for level in LEVELS],
    description="the disc level, its slash written as a dash: C5-6 is C5/6",
)


_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_MEASURE = {
    "type": "object",
    "nullable": True,
    "properties": {
        "points": {"type": "array", "items": _POINT, "minItems": 2, "maxItems": 2},
        "mm": {"type": "number", "readOnly": True, "description": "the distance between the points"},
    },
    "required": ["points"],
}


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: _MEASURE for name in MEASURES},
        "additionalProperties": False,
        "description": "caliper measurements (two points in patient mm each); null removes one, one left "
        "out stays as it was",
    }
)
class MeasurementsField(serializers.JSONField):
    """The service checks the points and computes each length (invalid_measurement)."""


class AnnotationOutput(serializers.Serializer):
    level = serializers.CharField()
    grade = serializers.IntegerField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    note = serializers.CharField()
    measurements = MeasurementsField()
    torg_pavlov = serializers.SerializerMethodField(help_text="canal AP / body AP, when both are measured")
    version = serializers.IntegerField()
    display = serializers.ChoiceField(
        choices=LevelAnnotation.Display.choices,
        help_text="what the reader had on screen when the grade was last set",
    )
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_torg_pavlov(self, annotation) -> float | None:
        return torg_pavlov_ratio(annotation.measurements)


class PlacedLevelOutput(serializers.Serializer):
    """A level's position in one study (patient mm), from the finder, the model or this reader."""

    level = serializers.CharField()
    source = serializers.ChoiceField(choices=["finder", "model", "reader"])
    centre = serializers.ListField(child=serializers.FloatField())
    normal = serializers.ListField(child=serializers.FloatField())
    canal = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    at = serializers.DateTimeField()


class LevelPositionOutput(serializers.Serializer):
    level = serializers.CharField()
    ct_index = serializers.IntegerField(allow_null=True, help_text="0-based index in the CT series' stack")
    ct_source = serializers.ChoiceField(choices=["reader", "model", "finder", "even"])
    mr_index = serializers.IntegerField(
        allow_null=True, help_text="0-based index in the MR axial series' stack"
    )
    mr_source = serializers.ChoiceField(choices=["disc_aligned", "reader", "model", "finder", "even"])
    ct_position = PlacedLevelOutput(allow_null=True)
    mr_position = PlacedLevelOutput(allow_null=True)


class LevelPositionsOutput(serializers.Serializer):
    """Where the reading view shows each level; stacks are ordered by InstanceNumber."""

    ct_series_uid = serializers.CharField(allow_null=True)
    mr_axial_series_uid = serializers.CharField(allow_null=True)
    mr_sagittal_series_uid = serializers.CharField(allow_null=True)
    levels = LevelPositionOutput(many=True)


class CaseSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    project = serializers.CharField(source="project.slug")
    patient_id = serializers.CharField(source="pair.patient.patient_id")
    ct_study_uid = serializers.CharField(source="pair.ct_study.study_uid")
    mr_study_uid = serializers.CharField(source="pair.mr_study.study_uid")
    priority = serializers.SerializerMethodField(
        help_text="the model's reading priority; null on a blinded case (it would hint at the model's doubt)"
    )
    status = serializers.ChoiceField(choices=worklist.STATUSES, source="my_status")
    in_reference_set = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    disagreement = serializers.IntegerField(
        allow_null=True,
        help_text="the largest spread of submitted grades at one level; only once this reader has submitted",
    )

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_priority(self, case) -> float | None:
        return None if case.blinded else case.priority


class WorklistQuery(QueryInput):
    project = serializers.SlugField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=worklist.STATUSES, required=False)
    reference = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(
        required=False, max_length=64, default="", help_text="part of a patient id"
    )
    disagreement = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3,
        help_text="submitted cases whose reads differ by this many grades",
    )
    sort = serializers.ChoiceField(choices=list(worklist.SORTS), default="priority")


class WorklistPagination(StrictLimitOffsetPagination):
    max_limit = 200


class WorklistApi(APIView):
    """The reader's cases, a page at a time (`?limit=`, default 50, at most 200; `?offset=`), with
    filters and sorts; `done`, `remaining` and `next_case` are over all their cases (of `?project=`)."""

    @extend_schema(
        operation_id="reading_worklist",
        parameters=[WorklistQuery],
        responses={
            200: inline_serializer(
                name="Worklist",
                fields={
                    "done": serializers.IntegerField(),
                    "remaining": serializers.IntegerField(),
                    "next_case": serializers.IntegerField(allow_null=True),
                    "count": serializers.IntegerField(help_text="cases that match the filters"),
                    "limit": serializers.IntegerField(),
                    "offset": serializers.IntegerField(),
                    "cases": CaseSummaryOutput(many=True),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = WorklistQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = worklist.WorklistFilters(**query.validated_data)
        paginator = WorklistPagination()
        ids = worklist.worklist_cases(reader=request.user, filters=filters).values_list("pk", flat=True)
        page = worklist.worklist_page(
            reader=request.user, case_ids=paginator.paginate_queryset(ids, request, view=self)
        )
        upcoming = selectors.worklist_next(reader=request.user, project_slug=filters.project)
        return Response(
            {
                **worklist.worklist_counts(reader=request.user, project=filters.project),
                "next_case": upcoming.pk if upcoming else None,
                "count": paginator.count,
                "limit": paginator.limit,
                "offset": paginator.offset,
                "cases": CaseSummaryOutput(page, many=True).data,
            }
        )


class CaseDetailApi(APIView):
    @extend_schema(
        operation_id="reading_case",
        responses={
            200: inline_serializer(
                name="CaseDetail",
                fields={
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "ct_study_uid": serializers.CharField(),
                    "mr_study_uid": serializers.CharField(),
                    "levels": serializers.ListField(child=serializers.CharField()),
                    "annotations": AnnotationOutput(many=True),
                    "suggestions": serializers.DictField(),
                    "time_spent_s": serializers.FloatField(),
                    "level_positions": LevelPositionsOutput(),
                },
            )
        },
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get_for_reader(reader=request.user, case_id=case_id)
        assignment = selectors.assignment_for_reader(reader=request.user, case=case)
        return Response(
            {
                "id": case.pk,
                "status": assignment.status if assignment else "new",
                "ct_study_uid": case.pair.ct_study.study_uid,
                "mr_study_uid": case.pair.mr_study.study_uid,
                "levels": LEVELS,
                "annotations": AnnotationOutput(
                    assignment.levels.all() if assignment else [], many=True
                ).data,
                "suggestions": selectors.case_suggestions(case=case),
                "time_spent_s": assignment.time_spent_s if assignment else 0.0,
                "level_positions": LevelPositionsOutput(
                    selectors.case_level_positions(case=case, reader=request.user)
                ).data,
            }
        )


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": 3, "nullable": True})
class GradeField(serializers.JSONField):
    """A grade 0-3, or null to clear it; the service checks it (invalid_grade)."""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": services.MAX_BOX_PIXELS},
        "minItems": 4,
        "maxItems": 4,
        "nullable": True,
        "description": "[x0, y0, x1, y1] with x0 < x1 and y0 < y1, pixels of the CT sagittal reformat; null clears it",
    }
)
class BoxField(serializers.JSONField):
    """The ROI box, or null to clear it; the service checks it (invalid_box)."""


class LevelInput(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, required=False, default=None)
    grade = GradeField(required=False, allow_null=True)
    box = BoxField(required=False, allow_null=True)  # null: the reader cleared the ROI (x)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    measurements = MeasurementsField(required=False)
    display = serializers.ChoiceField(
        choices=services.CLIENT_DISPLAYS,
        default=LevelAnnotation.Display.SHOWN,
        help_text="the level's model suggestion as the view shows it: shown, hidden by the reader (h) or "
        "none; the server records blinded for a blinded case and no_model where it has no suggestion",
    )


class LevelAnnotationApi(APIView):
    """Save a draft at one level. Send the version you last saw; a stale one gets 409."""

    @extend_schema(
        operation_id="reading_level_save",
        request=LevelInput,
        parameters=[LEVEL_PARAMETER],
        responses={200: AnnotationOutput, **errors(409)},
    )
    def put(self, request: Request, case_id: int, level: str) -> Response:
        data = LevelInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = selectors.case_get_for_reader(reader=request.user, case_id=case_id)
        assignment = services.assignment_open(case=case, reader=request.user)
        fields = {
            k: v for k, v in data.validated_data.items() if k in ("grade", "box", "note", "measurements")
        }
        level = level.replace("-", "/")
        annotation = services.level_annotation_save(
            assignment=assignment,
            level=level,
            user=request.user,
            version=data.validated_data.get("version"),
            model_version_shown=selectors.case_model_version_shown(case=case, level=level),
            display=data.validated_data["display"],
            **fields,
        )
        return Response(AnnotationOutput(annotation).data)


class SubmitInput(serializers.Serializer):
    time_spent_s = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=24 * 3600 - 1
    )


class SubmitApi(APIView):
    @extend_schema(
        operation_id="reading_submit",
        request=SubmitInput,
        responses={
            200: inline_serializer(
                name="SubmitOutput",
                fields={
                    "status": serializers.CharField(),
                    "next_case": serializers.IntegerField(allow_null=True),
                },
            ),
            **errors(409),
        },
        description="409: a level is not graded yet (incomplete, with missing_levels), or submitted already.",
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = selectors.case_get_for_reader(reader=request.user, case_id=case_id)
        assignment = services.assignment_open(case=case, reader=request.user)
        spent = data.validated_data.get("time_spent_s") or 0.0
        services.assignment_submit(assignment=assignment, user=request.user, time_spent_s=spent)
        upcoming = selectors.worklist_next(reader=request.user, project_slug=case.project.slug)
        return Response(
            {"status": "submitted", "next_case": upcoming.pk if upcoming else None}, status=status.HTTP_200_OK
        )


class LevelPositionInput(serializers.Serializer):
    modality = serializers.ChoiceField(choices=["CT", "MR"])
    centre = serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3)
    normal = serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3, required=False)


class LevelPositionApi(APIView):
    """A reader moves a level line: the level's new centre (and plane) in one study of the case. Only
    this reader sees it; it also places the crop this level's grade trains on."""

    @extend_schema(
        operation_id="reading_level_position",
        request=LevelPositionInput,
        parameters=[LEVEL_PARAMETER],
        responses={200: LevelPositionsOutput},
    )
    def put(self, request: Request, case_id: int, level: str) -> Response:
        data = LevelPositionInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = selectors.case_get_for_reader(reader=request.user, case_id=case_id)
        level_position_correct(
            case=case,
            reader=request.user,
            modality=data.validated_data["modality"],
            level=level.replace("-", "/"),
            centre=data.validated_data["centre"],
            normal=data.validated_data.get("normal"),
        )
        return Response(
            LevelPositionsOutput(selectors.case_level_positions(case=case, reader=request.user)).data
        )


class AllocationReaderOutput(serializers.Serializer):
    reader = serializers.CharField()
    cases = serializers.IntegerField(help_text="cases dealt to this reader")
    for_adjudication = serializers.IntegerField(help_text="of them, dealt to a senior to adjudicate")


class AllocationOutput(serializers.Serializer):
    allocation = serializers.ChoiceField(choices=Allocation.choices)
    reads_per_case = serializers.IntegerField()
    reader_case_cap = serializers.IntegerField(allow_null=True)
    readers = AllocationReaderOutput(many=True)
    undealt_reads = serializers.IntegerField(help_text="reads still to deal: the cap, or too few readers")


class AllocationInput(serializers.Serializer):
    # At most what their columns hold (PostgreSQL refused a larger one with a server error).
    allocation = serializers.ChoiceField(choices=Allocation.choices)
    reads_per_case = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, required=False)
    reader_case_cap = serializers.IntegerField(
        min_value=1, max_value=MAX_COUNT, required=False, allow_null=True, default=None
    )


class AllocationApi(APIView):
    """How the project's cases reach its readers (admins of the project): every case to every reader
    (`all`, the default) or dealt `round_robin`, `reads_per_case` readers a case and at most
    `reader_case_cap` cases a reader; PUT changes it and deals the cases again."""

    permission_classes = [IsProjectAdmin]

    @extend_schema(operation_id="reading_allocation", responses={200: AllocationOutput})
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        return Response(AllocationOutput(selectors.project_allocation_summary(project=project)).data)

    @extend_schema(
        operation_id="reading_allocation_set", request=AllocationInput, responses={200: AllocationOutput}
    )
    def put(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        data = AllocationInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = allocation.project_allocation_set(
            project=project, **data.validated_data, actor=request.user
        )
        return Response(AllocationOutput(selectors.project_allocation_summary(project=project)).data)


class PlacementOutput(PlacedLevelOutput):
    study_id = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    case_id = serializers.IntegerField(allow_null=True)


class LevelPositionHistoryApi(APIView):
    """Every placement of a case's levels, oldest first: the finder's, the model's and every reader's
    correction (who, when, where). Admins of the case's project only."""

    @extend_schema(operation_id="reading_level_position_history", responses={200: PlacementOutput(many=True)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get_for_admin(admin=request.user, case_id=case_id)
        studies = [s for s in (case.pair.ct_study_id, case.pair.mr_study_id) if s]
        return Response(PlacementOutput(level_positions_history(study_ids=studies), many=True).data)


class LabelImportError(serializers.Serializer):
    line = serializers.IntegerField()
    message = serializers.CharField()


class LabelImportOutput(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    readers_created = serializers.ListField(child=serializers.CharField())
    errors = LabelImportError(many=True, help_text="the first 200 rows refused, by line number")


MAX_LABELS_FILE_BYTES = 50 * 1024 * 1024


class LabelImportApi(APIView):
    """Import grades a team already has (admins of the project): a CSV in the `ml` real-cohort
    layout (patient_id, level, grade, reader, reader_experience, optional x0, y0, x1, y1) or the
    platform's own annotations export. Each row becomes a submitted reading of the named reader
    (made when unknown), marked imported; rows that cannot be used are reported by line number and
    the others kept; the same file imported again changes nothing."""

    permission_classes = [IsProjectAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="reading_labels_import",
        request={
            "multipart/form-data": inline_serializer(
                name="LabelImportInput", fields={"file": serializers.FileField(help_text="the labels CSV")}
            )
        },
        responses={200: LabelImportOutput, **errors(404, 413)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        upload = request.FILES.get("file")
        if upload is None:
            raise ApplicationError("Send the labels CSV in the 'file' field.", code="no_file")
        if upload.size > MAX_LABELS_FILE_BYTES:
            raise ApplicationError(
                f"The labels file is over {MAX_LABELS_FILE_BYTES // 2**20} MiB.", code="too_large", status=413
            )
        report = label_import.labels_import(project=project, content=upload.read(), actor=request.user)
        return Response(LabelImportOutput(report).data)
