from collections.abc import Sequence

from django.db.models import Count, OuterRef, Q, Subquery

from backend.accounts.models import Role
from backend.learning.models import (
    AdjudicationItem,
    LevelPrediction,
    ModelPromotion,
    ModelVersion,
    ReferenceLabel,
)
from backend.projects.models import Project
from backend.projects.selectors import project_role_for_user
from backend.reading.models import Assignment

# A version's training snapshot holds every label it was trained on (megabytes at scale): reads that do
# not show it leave it in the database.
SNAPSHOT = "training_snapshot"


def champion_get(*, project: Project) -> ModelVersion | None:
    return project.model_versions.filter(status=ModelVersion.Status.CHAMPION).defer(SNAPSHOT).first()


def champion_lineage(*, project: Project) -> list[int]:
    """The ids of the champions a rollback without a version goes back through, oldest first, the
    current one last: each promotion puts its version on top (an earlier champion promoted again
    moves there), each rollback takes off the versions above the one it brings back, so that a
    second rollback goes further back instead of undoing the first (v3 -> v2 -> v1)."""
    lineage: list[int] = []
    for kind, version_id in project.promotions.order_by("at", "pk").values_list("kind", "version_id"):
        if kind == ModelPromotion.Kind.ROLLBACK and version_id in lineage:
            del lineage[lineage.index(version_id) + 1 :]
            continue
        if version_id in lineage:
            lineage.remove(version_id)
        lineage.append(version_id)
    return lineage


def promotion_history(*, project: Project):
    """Every promotion and rollback of the project's champion, newest first."""
    return (
        project.promotions.select_related("version__project", "replaced__project", "by")
        .defer(f"version__{SNAPSHOT}", f"replaced__{SNAPSHOT}")
        .order_by("-at", "-pk")
    )


def champion_label(*, project: Project) -> str:
    champion = champion_get(project=project)
    return champion.label if champion else ""


def champion_suggestion_label(*, project: Project, study_id: int, level: str) -> str:
    """The champion's label when it has a suggestion for this level of the CT study, else ""."""
    champion = champion_get(project=project)
    if champion is None or not champion.predictions.filter(study_id=study_id, level=level).exists():
        return ""
    return champion.label


def study_suggestions(*, project: Project, study_id: int) -> dict:
    """The champion's per-level suggestions for a CT study, as the reading view shows them."""
    champion = champion_get(project=project)
    if champion is None:
        return {"model_version": None, "levels": [], "message": "No model suggestion yet."}
    predictions = LevelPrediction.objects.filter(model_version=champion, study_id=study_id).order_by("level")
    levels = [
        {
            "level": p.level,
            "grade": p.grade,
            "confidence": round(max(p.probabilities), 4),
            "box": p.box,
            "probabilities": p.probabilities,
            "binary_probability": p.binary_probability,
            "canal_ap_mm": p.canal_ap_mm,
        }
        for p in predictions
    ]
    message = "" if levels else "The model has not read this study yet."
    return {"model_version": champion.label, "levels": levels, "message": message}


def reference_set_cases(*, project: Project):
    """The project's cases with their reference-set membership and how many readings each has:
    what an admin chooses the frozen reference set from (only unread cases can move)."""
    return (
        project.cases.select_related("pair__patient", "pair__ct_study")
        .annotate(readings=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)))
        .order_by("-in_reference_set", "pk")
    )


def training_runs_for_project(*, project: Project):
    return (
        project.training_runs.select_related("model_version__project", "project")
        .defer(f"model_version__{SNAPSHOT}")
        .order_by("-created_at")
    )


def kappa_series(
    *,
    project: Project,
    kinds: Sequence[str] | None = None,
    task: str = "4grade",
    weighting: str = "quadratic",
    subset: str = "all",
) -> list[dict]:
    """Kappa over time, one series per rater pair, with intervals and the model version of each point.

    Reads only the columns it shows (a version's metrics and training snapshot stay in the database).
    """
    rows = project.kappa_snapshots.filter(task=task, weighting=weighting, subset=subset)
    if kinds:
        rows = rows.filter(kind__in=kinds)
    series: dict[tuple, dict] = {}
    for row in rows.order_by("taken_at", "pk").values(
        "kind",
        "rater_a",
        "rater_b",
        "taken_at",
        "trigger",
        "kappa",
        "ci_low",
        "ci_high",
        "n",
        "model_version__number",
    ):
        entry = series.setdefault(
            (row["kind"], row["rater_a"], row["rater_b"]),
            {"kind": row["kind"], "rater_a": row["rater_a"], "rater_b": row["rater_b"], "points": []},
        )
        number = row["model_version__number"]
        entry["points"].append(
            {
                "taken_at": row["taken_at"],
                "trigger": row["trigger"],
                "kappa": row["kappa"],
                "ci95": [row["ci_low"], row["ci_high"]],
                "n": row["n"],
                "model_version": None if number is None else f"{project.slug}-v{number}",
            }
        )
    return list(series.values())


def adjudication_queue(*, project: Project, status: str = AdjudicationItem.Status.OPEN):
    return AdjudicationItem.objects.filter(case__project=project, status=status).select_related(
        "case", "resolved_by"
    )


def adjudication_queue_for_user(*, project: Project, user, status: str = AdjudicationItem.Status.OPEN):
    """The items a user may see and resolve: all of them for an admin of the project; for anyone else
    only those on cases they have submitted their own reading of, so that nobody reads a case
    knowing its grades."""
    items = adjudication_queue(project=project, status=status)
    if project_role_for_user(project=project, user=user) == Role.ADMIN:
        return items
    read = Assignment.objects.filter(reader=user, status=Assignment.Status.SUBMITTED).values("case_id")
    return items.filter(case_id__in=read)


def adjudication_list_for_user(
    *,
    project: Project,
    user,
    status: str = AdjudicationItem.Status.OPEN,
    limit: int = 500,
    item_id: int | None = None,
) -> list[AdjudicationItem]:
    """`adjudication_queue_for_user`, each item with the champion's suggestion for its level
    (`model_grade`, `model_version`) and the level's reference label (`reference_grade`); a
    non-admin's copy of a blinded case's item leaves out every grade of a model (in memory only)."""
    champion = champion_get(project=project)
    suggested = LevelPrediction.objects.filter(
        model_version=champion, study_id=OuterRef("case__pair__ct_study_id"), level=OuterRef("level")
    )
    reference = ReferenceLabel.objects.filter(case_id=OuterRef("case_id"), level=OuterRef("level"))
    queue = adjudication_queue_for_user(project=project, user=user, status=status)
    if item_id is not None:
        queue = queue.filter(pk=item_id)
    items = list(
        queue.annotate(
            model_grade=Subquery(suggested.values("grade")[:1]),
            reference_grade=Subquery(reference.values("grade")[:1]),
        )[:limit]
    )
    for item in items:
        item.model_version = champion.label if champion and item.model_grade is not None else None
    if project_role_for_user(project=project, user=user) == Role.ADMIN:
        return items
    numbers = project.model_versions.values_list("number", flat=True)
    model_labels = {ModelVersion(project=project, number=number).label for number in numbers}
    for item in items:
        if item.case.blinded:
            item.grades = {rater: grade for rater, grade in item.grades.items() if rater not in model_labels}
            item.model_grade = item.model_version = None
    return items
