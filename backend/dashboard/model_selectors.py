"""Dashboard reads about the model: kappa over time, blinded vs shown, the registry, the champion's
confusion matrix on the reference set, and the label-efficiency curve. Each is a fixed number of queries
that fetch only the JSON keys they show (a version's training snapshot holds every grade it used)."""

import json
import logging
from pathlib import Path

from django.conf import settings
from django.db.models import F, Max, Q
from django.db.models.fields.json import KeyTransform

from backend.learning.models import KappaSnapshot, ModelPromotion, ModelVersion
from backend.learning.selectors import kappa_series
from backend.projects.models import Project

logger = logging.getLogger(__name__)

TIMELINE_KINDS = (KappaSnapshot.Kind.MODEL_GROUP, KappaSnapshot.Kind.GROUP_GROUP)
SUBSET_KINDS = (KappaSnapshot.Kind.MODEL_GROUP, KappaSnapshot.Kind.GROUP_GROUP)
REFERENCE_KEYS = ("n", "kappa_quadratic", "kappa_quadratic_ci95", "accuracy", "binary_kappa")


def _reference_metrics(values: dict) -> dict:
    """The reference metrics as the registry shows them; the interval is a pair ([null, null] when a
    version has no reference metrics yet)."""
    metrics = {key: values.get(key) for key in REFERENCE_KEYS}
    ci = metrics["kappa_quadratic_ci95"]
    metrics["kappa_quadratic_ci95"] = ci if isinstance(ci, list) and len(ci) == 2 else [None, None]
    return metrics


def json_path(field: str, *keys: str):
    """metrics -> reference -> kappa_quadratic, read by the database (only that value travels)."""
    expression = field
    for key in keys:
        expression = KeyTransform(key, expression)
    return expression


def _label(project: Project, number: int | None) -> str | None:
    return None if number is None else f"{project.slug}-v{number}"


def promotions(*, project: Project) -> list[dict]:
    """When each version was (last) made champion: the marks on the kappa timeline."""
    rows = (
        ModelVersion.objects.filter(project=project, promoted_at__isnull=False)
        .order_by("promoted_at")
        .values("number", "status", "promoted_at")
    )
    return [{"model_version": _label(project, r["number"]), **r} for r in rows]


def kappa_timeline(
    *,
    project: Project,
    task: str = "4grade",
    weighting: str = "quadratic",
    subset: str = "all",
    kinds: tuple[str, ...] = TIMELINE_KINDS,
) -> dict:
    """One series per rater pair (model vs each group, group vs group by default), with promotion marks."""
    series = kappa_series(project=project, kinds=kinds, task=task, weighting=weighting, subset=subset)
    return {
        "task": task,
        "weighting": weighting,
        "subset": subset,
        "series": series,
        "promotions": promotions(project=project),
    }


def kappa_by_subset(*, project: Project, task: str = "4grade", weighting: str = "quadratic") -> dict:
    """The latest agreement on all levels and on those read with the suggestion shown, hidden or blinded."""
    base = KappaSnapshot.objects.filter(
        project=project, task=task, weighting=weighting, kind__in=SUBSET_KINDS
    )
    latest = base.values("subset").annotate(at=Max("taken_at"))
    wanted = Q(pk__in=[])
    for row in latest:
        wanted |= Q(subset=row["subset"], taken_at=row["at"])
    rows = (
        base.filter(wanted)
        .order_by("kind", "rater_a", "rater_b", "subset")
        .values(
            "kind",
            "rater_a",
            "rater_b",
            "subset",
            "kappa",
            "ci_low",
            "ci_high",
            "n",
            "taken_at",
            "model_version__number",
        )
    )
    return {
        "task": task,
        "weighting": weighting,
        "rows": [
            {
                **{k: r[k] for k in ("kind", "rater_a", "rater_b", "subset", "kappa", "n", "taken_at")},
                "ci95": [r["ci_low"], r["ci_high"]],
                "model_version": _label(project, r["model_version__number"]),
            }
            for r in rows
        ],
    }


def champion_confusion_matrix(*, project: Project) -> dict:
    """Rows: the reference grade; columns: the champion's grade, on the frozen reference set."""
    champion = (
        ModelVersion.objects.filter(project=project, status=ModelVersion.Status.CHAMPION)
        .values("number", "promoted_at", reference=json_path("metrics", "reference"))
        .first()
    )
    reference = (champion or {}).get("reference") or {}
    matrix = reference.get("confusion_matrix")
    valid = (
        isinstance(matrix, list)
        and len(matrix) == 4
        and all(isinstance(r, list) and len(r) == 4 for r in matrix)
    )
    return {
        "model_version": _label(project, champion["number"]) if champion else None,
        "grades": [0, 1, 2, 3],
        "matrix": matrix if valid else None,
        **_reference_metrics(reference),
    }


def _versions_with_reference(project: Project):
    return ModelVersion.objects.filter(project=project).values(
        "number",
        "status",
        "created_at",
        "promoted_at",
        "error",
        **{key: json_path("metrics", "reference", key) for key in REFERENCE_KEYS},
        gate_promoted=json_path("metrics", "gate", "promoted"),
        gate_reason=json_path("metrics", "gate", "reason"),
        snapshot_labels=json_path("training_snapshot", "labels"),
        run_id=F("training_run__id"),
        run_status=F("training_run__status"),
        run_trigger=F("training_run__trigger"),
        run_labels=F("training_run__labels_used"),
    )


def _training_labels(row: dict) -> int | None:
    value = row["snapshot_labels"] if isinstance(row["snapshot_labels"], int) else row["run_labels"]
    return value if isinstance(value, int) else None


def _champion_changes(project: Project) -> dict[int, list[dict]]:
    """Per version number, when it was made champion (promoted or rolled back to), by whom, oldest first."""
    changes: dict[int, list[dict]] = {}
    rows = ModelPromotion.objects.filter(project=project).order_by("at", "pk")
    for number, kind, by, at in rows.values_list("version__number", "kind", "by__username", "at"):
        changes.setdefault(number, []).append({"kind": kind, "by": by, "at": at})
    return changes


def model_registry(*, project: Project) -> list[dict]:
    """Every version, newest first, with its metrics on the reference set, what the gate said and
    each time it was made champion."""
    out = []
    changes = _champion_changes(project)
    for row in _versions_with_reference(project).order_by("-number"):
        out.append(
            {
                "number": row["number"],
                "model_version": _label(project, row["number"]),
                "status": row["status"],
                "created_at": row["created_at"],
                "promoted_at": row["promoted_at"],
                "error": row["error"],
                "training_labels": _training_labels(row),
                "training_run": None
                if row["run_id"] is None
                else {"id": row["run_id"], "status": row["run_status"], "trigger": row["run_trigger"]},
                "reference": _reference_metrics(row),
                "gate": {"promoted": row["gate_promoted"], "reason": row["gate_reason"]},
                "promotions": changes.get(row["number"], []),
            }
        )
    return out


def _benchmark_strategies(path: Path) -> tuple[list[dict], str]:
    """Per-strategy curves of `benchmarks/label_efficiency.py`, if its file is there and readable."""
    if not path.is_file():
        return [], "no label-efficiency benchmark has been run"
    try:
        data = json.loads(path.read_text())
        strategies = data.get("strategies", {}) if isinstance(data, dict) else {}
        out = []
        for name, entry in strategies.items():
            entry = entry if isinstance(entry, dict) else {}
            curves = entry.get("curves") if isinstance(entry.get("curves"), dict) else {}
            out.append(
                {
                    "strategy": str(name),
                    "mean_labels_to_target": _number(entry.get("mean_labels_to_target")),
                    "curves": [
                        {"seed": str(seed), "points": _benchmark_points(points)}
                        for seed, points in curves.items()
                        if isinstance(points, list)
                    ],
                }
            )
        return out, ""
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        logger.warning("unreadable label-efficiency benchmark %s: %s", path, exc)
        return [], f"the benchmark file could not be read: {type(exc).__name__}"


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _benchmark_points(points: list) -> list[dict]:
    out = []
    for point in points:
        if not isinstance(point, dict) or _number(point.get("labels")) is None:
            continue
        ci = (
            point.get("ci95")
            if isinstance(point.get("ci95"), list) and len(point["ci95"]) == 2
            else [None, None]
        )
        out.append(
            {
                "labels": int(point["labels"]),
                "kappa_quadratic": _number(point.get("kappa_quadratic")),
                "ci95": [_number(ci[0]), _number(ci[1])],
            }
        )
    return out


def label_efficiency(*, project: Project, benchmark_path: Path | None = None) -> dict:
    """Training labels used vs the reference kappa of each version of the project; plus the benchmark's
    per-strategy curves when var/benchmarks/label_efficiency.json exists."""
    points = []
    rows = _versions_with_reference(project).exclude(status=ModelVersion.Status.FAILED).order_by("number")
    for row in rows:
        labels = _training_labels(row)
        if labels is None or row["kappa_quadratic"] is None:
            continue
        ci = row["kappa_quadratic_ci95"] if isinstance(row["kappa_quadratic_ci95"], list) else [None, None]
        points.append(
            {
                "model_version": _label(project, row["number"]),
                "status": row["status"],
                "labels": labels,
                "kappa_quadratic": row["kappa_quadratic"],
                "ci95": ci,
            }
        )
    path = benchmark_path or Path(settings.VAR_DIR) / "benchmarks" / "label_efficiency.json"
    strategies, note = _benchmark_strategies(path)
    return {
        "project_points": sorted(points, key=lambda p: p["labels"]),
        "benchmark": strategies,
        "benchmark_note": note,
    }
