"""Dashboard data for project admins: thin views over the dashboard selectors (readers 403, anonymous 401;
an admin of another project 404 on this one's data)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.common.inputs import QueryInput
from backend.dashboard import model_selectors, outputs, selectors, worker_selectors
from backend.dashboard.case_history import case_history
from backend.learning import performance_selectors
from backend.learning.models import KappaSnapshot
from backend.projects.permissions import IsProjectAdmin
from backend.projects.selectors import project_get_for_user
from backend.reading.selectors import case_get_for_admin


class DashboardApi(APIView):
    permission_classes = [IsAuthenticated, IsProjectAdmin]


class ProjectListApi(DashboardApi):
    @extend_schema(
        operation_id="dashboard_projects", responses={200: outputs.DashboardProjectOutput(many=True)}
    )
    def get(self, request: Request) -> Response:
        return Response(list(selectors.project_list_for_dashboard(user=request.user)))


def _admin_project(request: Request, slug: str):
    return project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)


def _project_view(operation_id: str, output, read, description: str):
    """A GET of one project's dashboard data: the selector `read(project=...)` answers as it is."""

    class ProjectDashboardApi(DashboardApi):
        @extend_schema(operation_id=operation_id, responses={200: output}, description=description)
        def get(self, request: Request, slug: str) -> Response:
            return Response(read(project=_admin_project(request, slug)))

    ProjectDashboardApi.__name__ = ProjectDashboardApi.__qualname__ = (
        f"{operation_id.title().replace('_', '')}Api"
    )
    return ProjectDashboardApi


SummaryApi = _project_view(
    "dashboard_summary",
    outputs.SummaryOutput,
    selectors.dashboard_summary,
    "The first screen: cases read, the champion, a training under way, open adjudications, model vs groups.",
)
LabelingProgressApi = _project_view(
    "dashboard_labeling_progress",
    outputs.LabelingProgressOutput,
    selectors.labeling_progress,
    "Submitted levels, readings and cases per day (with running totals) and per reader.",
)
GradeDistributionApi = _project_view(
    "dashboard_grade_distribution",
    outputs.GradeDistributionOutput,
    selectors.grade_distribution,
    "Grades 0-3 of the reference labels and of each reader group's submitted levels.",
)
ConfusionMatrixApi = _project_view(
    "dashboard_confusion_matrix",
    outputs.ConfusionMatrixOutput,
    model_selectors.champion_confusion_matrix,
    "The champion's confusion matrix on the frozen reference set (rows: reference grade).",
)
ModelRegistryApi = _project_view(
    "dashboard_model_registry",
    outputs.RegistryRowOutput(many=True),
    model_selectors.model_registry,
    "Every model version with its reference-set metrics, training labels and the gate's decision.",
)
LabelEfficiencyApi = _project_view(
    "dashboard_label_efficiency",
    outputs.LabelEfficiencyOutput,
    model_selectors.label_efficiency,
    "Training labels vs reference kappa of the project's versions; the benchmark's strategy curves if run.",
)
ReaderPerformanceApi = _project_view(
    "dashboard_reader_performance",
    outputs.ReaderPerformanceOutput,
    performance_selectors.reader_performance,
    "Each reader's and each experience group's accuracy, macro F1 and kappas against the reference labels "
    "(never against a reference made of the reader's own grade), 4 grades and binary, with bootstrap 95% "
    "intervals over cases; on all cases and on the frozen reference set.",
)
AdjudicationSummaryApi = _project_view(
    "dashboard_adjudication_summary",
    outputs.AdjudicationSummaryOutput,
    selectors.adjudication_summary,
    "Open and resolved adjudications, open ones by reason and level, the oldest open one.",
)


class KappaQuery(QueryInput):
    task = serializers.ChoiceField(choices=["4grade", "binary"], default="4grade")
    weighting = serializers.ChoiceField(choices=["none", "quadratic"], default="quadratic")


class KappaTimelineQuery(KappaQuery):
    subset = serializers.ChoiceField(choices=KappaSnapshot.SUBSETS, default="all")
    kind = serializers.MultipleChoiceField(
        choices=KappaSnapshot.Kind.choices,
        required=False,
        help_text="rater pairs to plot (repeatable); default: model vs groups and group vs group",
    )


class KappaTimelineApi(DashboardApi):
    @extend_schema(
        operation_id="dashboard_kappa_timeline",
        parameters=[KappaTimelineQuery],
        responses={200: outputs.KappaTimelineOutput},
        description="Kappa over time per rater pair, with intervals and the versions' promotions.",
    )
    def get(self, request: Request, slug: str) -> Response:
        query = KappaTimelineQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        kinds = tuple(sorted(params.pop("kind", None) or model_selectors.TIMELINE_KINDS))
        project = _admin_project(request, slug)
        return Response(model_selectors.kappa_timeline(project=project, kinds=kinds, **params))


class KappaBySubsetApi(DashboardApi):
    @extend_schema(
        operation_id="dashboard_kappa_by_subset",
        parameters=[KappaQuery],
        responses={200: outputs.KappaBySubsetOutput},
        description="The latest kappa on all levels and on those read with the suggestion shown, hidden "
        "by the reader, or blinded.",
    )
    def get(self, request: Request, slug: str) -> Response:
        query = KappaQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        project = _admin_project(request, slug)
        return Response(model_selectors.kappa_by_subset(project=project, **query.validated_data))


class WorkersHealthApi(DashboardApi):
    @extend_schema(
        operation_id="dashboard_workers",
        responses={200: outputs.WorkersHealthOutput},
        description="Database, broker and Celery workers, and the tasks waiting on each queue.",
    )
    def get(self, request: Request) -> Response:
        return Response(worker_selectors.workers_health())


class CaseHistoryApi(DashboardApi):
    @extend_schema(
        operation_id="dashboard_case_history",
        responses={200: outputs.CaseHistoryEntryOutput(many=True)},
        description="Every change to a case, oldest first: who, when, what (before and after) and from "
        "which view; admins of the case's project.",
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = case_get_for_admin(admin=request.user, case_id=case_id)
        return Response(outputs.CaseHistoryEntryOutput(case_history(case=case), many=True).data)
