"""The shapes the dashboard endpoints answer with (documented in the OpenAPI schema).

The views return the selectors' dicts as they are: these serializers describe them for the schema;
running thousands of kappa points through DRF fields would cost more than the queries themselves.
"""

from rest_framework import serializers

from backend.learning.models import KappaSnapshot
from backend.learning.outputs import KappaSeriesOutput


def _ci95():
    return serializers.ListField(child=serializers.FloatField(allow_null=True), min_length=2, max_length=2)


def _grade_counts():
    return serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4)


class DashboardProjectOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ChampionSummaryOutput(serializers.Serializer):
    model_version = serializers.CharField()
    promoted_at = serializers.DateTimeField(allow_null=True)
    reference_kappa = serializers.FloatField(allow_null=True)


class ActiveTrainingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.JSONField()
    labels_used = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class GroupKappaOutput(serializers.Serializer):
    group = serializers.CharField()
    kappa = serializers.FloatField(allow_null=True)
    ci95 = _ci95()
    n = serializers.IntegerField()
    taken_at = serializers.DateTimeField()


class SummaryOutput(serializers.Serializer):
    project = DashboardProjectOutput()
    cases = serializers.IntegerField()
    reference_cases = serializers.IntegerField()
    cases_read = serializers.IntegerField()
    readings = serializers.IntegerField()
    levels_submitted = serializers.IntegerField()
    readers = serializers.IntegerField()
    champion = ChampionSummaryOutput(allow_null=True)
    active_training = ActiveTrainingOutput(allow_null=True)
    open_adjudications = serializers.IntegerField()
    model_vs_groups = GroupKappaOutput(many=True)


class ProgressDayOutput(serializers.Serializer):
    day = serializers.DateField()
    levels = serializers.IntegerField()
    readings = serializers.IntegerField()
    cases = serializers.IntegerField(help_text="cases read for the first time that day")
    cumulative_levels = serializers.IntegerField()
    cumulative_readings = serializers.IntegerField()
    cumulative_cases = serializers.IntegerField()


class ReaderProgressOutput(serializers.Serializer):
    reader = serializers.CharField()
    experience = serializers.CharField()
    done = serializers.IntegerField()
    drafts = serializers.IntegerField()
    remaining = serializers.IntegerField()
    levels = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True, help_text="median time per submitted case")
    mean_seconds = serializers.FloatField(allow_null=True)


class LabelingProgressOutput(serializers.Serializer):
    total_cases = serializers.IntegerField()
    by_day = ProgressDayOutput(many=True)
    by_reader = ReaderProgressOutput(many=True)


class ReferenceGradesOutput(serializers.Serializer):
    frozen = _grade_counts()
    training = _grade_counts()


class GroupGradesOutput(serializers.Serializer):
    experience = serializers.CharField()
    counts = _grade_counts()
    total = serializers.IntegerField()


class GradeDistributionOutput(serializers.Serializer):
    grades = serializers.ListField(child=serializers.IntegerField())
    reference = ReferenceGradesOutput()
    reader_groups = GroupGradesOutput(many=True)


class PromotionOutput(serializers.Serializer):
    model_version = serializers.CharField()
    number = serializers.IntegerField()
    status = serializers.CharField()
    promoted_at = serializers.DateTimeField()


class KappaTimelineOutput(serializers.Serializer):
    task = serializers.CharField()
    weighting = serializers.CharField()
    subset = serializers.CharField()
    series = KappaSeriesOutput(many=True)
    promotions = PromotionOutput(many=True)


class KappaSubsetRowOutput(serializers.Serializer):
    kind = serializers.CharField()
    rater_a = serializers.CharField()
    rater_b = serializers.CharField()
    subset = serializers.ChoiceField(choices=KappaSnapshot.SUBSETS)
    kappa = serializers.FloatField(allow_null=True)
    ci95 = _ci95()
    n = serializers.IntegerField()
    taken_at = serializers.DateTimeField()
    model_version = serializers.CharField(allow_null=True)


class KappaBySubsetOutput(serializers.Serializer):
    task = serializers.CharField()
    weighting = serializers.CharField()
    rows = KappaSubsetRowOutput(many=True)


class ReferenceMetricsOutput(serializers.Serializer):
    n = serializers.IntegerField(allow_null=True)
    kappa_quadratic = serializers.FloatField(allow_null=True)
    kappa_quadratic_ci95 = _ci95()
    accuracy = serializers.FloatField(allow_null=True)
    binary_kappa = serializers.FloatField(allow_null=True)


class ConfusionMatrixOutput(ReferenceMetricsOutput):
    model_version = serializers.CharField(allow_null=True)
    grades = serializers.ListField(child=serializers.IntegerField())
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        allow_null=True,
        help_text="rows: reference grade 0-3; columns: the champion's grade",
    )


class RegistryRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    trigger = serializers.CharField()


class GateOutput(serializers.Serializer):
    promoted = serializers.BooleanField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class RegistryPromotionOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["promote", "rollback"])
    by = serializers.CharField(allow_null=True, help_text="null: the gate or an import")
    at = serializers.DateTimeField()


class RegistryRowOutput(serializers.Serializer):
    number = serializers.IntegerField()
    model_version = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    promoted_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    training_labels = serializers.IntegerField(allow_null=True)
    training_run = RegistryRunOutput(allow_null=True)
    reference = ReferenceMetricsOutput()
    gate = GateOutput()
    promotions = RegistryPromotionOutput(many=True, help_text="each time it was made champion, oldest first")


class EfficiencyPointOutput(serializers.Serializer):
    labels = serializers.IntegerField()
    kappa_quadratic = serializers.FloatField(allow_null=True)
    ci95 = _ci95()


class ProjectEfficiencyPointOutput(EfficiencyPointOutput):
    model_version = serializers.CharField()
    status = serializers.CharField()


class BenchmarkCurveOutput(serializers.Serializer):
    seed = serializers.CharField()
    points = EfficiencyPointOutput(many=True)


class BenchmarkStrategyOutput(serializers.Serializer):
    strategy = serializers.CharField()
    mean_labels_to_target = serializers.FloatField(allow_null=True)
    curves = BenchmarkCurveOutput(many=True)


class LabelEfficiencyOutput(serializers.Serializer):
    project_points = ProjectEfficiencyPointOutput(many=True)
    benchmark = BenchmarkStrategyOutput(many=True)
    benchmark_note = serializers.CharField()


class AdjudicationSummaryOutput(serializers.Serializer):
    open = serializers.IntegerField()
    resolved = serializers.IntegerField()
    open_by_reason = serializers.DictField(child=serializers.IntegerField())
    open_by_level = serializers.DictField(child=serializers.IntegerField())
    oldest_open_at = serializers.DateTimeField(allow_null=True)


class ScoreOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    ci95 = _ci95()


class TaskScoresOutput(serializers.Serializer):
    task = serializers.ChoiceField(choices=["4grade", "binary"], help_text="binary: grade >= 2")
    accuracy = ScoreOutput()
    macro_f1 = ScoreOutput()
    kappa = ScoreOutput(help_text="unweighted")
    kappa_quadratic = ScoreOutput()


class RaterScoresOutput(serializers.Serializer):
    levels = serializers.IntegerField(help_text="levels scored")
    cases = serializers.IntegerField()
    own_reference_levels = serializers.IntegerField(
        help_text="levels left out: their reference would rest on this rater's own grade alone"
    )
    tasks = TaskScoresOutput(many=True)


class ReaderScoresOutput(RaterScoresOutput):
    reader = serializers.CharField()
    experience = serializers.CharField()


class GroupScoresOutput(RaterScoresOutput):
    group = serializers.CharField()
    readers = serializers.IntegerField()


class ContrastOutput(serializers.Serializer):
    a = serializers.CharField()
    b = serializers.CharField()
    tasks = TaskScoresOutput(many=True, help_text="a's score minus b's, with the paired bootstrap's interval")


class PerformanceScopeOutput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["all", "reference_set"])
    reference_levels = serializers.IntegerField()
    readers = ReaderScoresOutput(many=True)
    groups = GroupScoresOutput(many=True)
    contrasts = ContrastOutput(many=True, help_text="senior minus junior, when both groups have readings")


class ReaderPerformanceOutput(serializers.Serializer):
    n_boot = serializers.IntegerField()
    metrics = serializers.ListField(child=serializers.CharField())
    tasks = serializers.ListField(child=serializers.CharField())
    scopes = PerformanceScopeOutput(many=True)


class CheckOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    detail = serializers.CharField()
    workers = serializers.ListField(child=serializers.CharField())


class ChecksOutput(serializers.Serializer):
    database = CheckOutput()
    broker = CheckOutput()
    worker = CheckOutput()


class QueueOutput(serializers.Serializer):
    name = serializers.CharField()
    waiting = serializers.IntegerField()


class WorkersHealthOutput(serializers.Serializer):
    status = serializers.CharField(help_text="ok or unavailable")
    checks = ChecksOutput()
    transport = serializers.CharField()
    workers = serializers.ListField(child=serializers.CharField())
    queues = QueueOutput(many=True)
    queue_error = serializers.CharField()


class CaseHistoryEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["annotation", "reading", "level_position", "adjudication"])
    action = serializers.CharField(
        help_text="annotation: create, update or submit; reading: open or submit; level_position: its "
        "source (finder, model, reader); adjudication: open or resolve"
    )
    actor = serializers.CharField(
        allow_null=True, help_text="the user, or the model version that placed a level"
    )
    level = serializers.CharField(allow_null=True)
    view = serializers.CharField(
        help_text="annotation: what the reader had on screen (LevelAnnotation.display); level_position: "
        "the study's modality"
    )
    changes = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True), min_length=2, max_length=2),
        help_text="field -> [before, after]",
    )
