"""Reads of the exports app: flat rows of annotations, boxes, model metrics and one reading.

Every selector issues a fixed number of queries whatever the size of the project; the row
iterators stream from the database (`.values(...).iterator()`), so 100k annotations never sit
in memory at once.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import FloatField, Max, Min, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.imaging.models import Instance, Modality, Series
from backend.learning import performance_selectors
from backend.learning.ml_bridge import REFORMAT_SPACING_MM
from backend.learning.models import ModelVersion
from backend.projects.models import Project
from backend.projects.selectors import audit_entries_for_project
from backend.reading.measurements import torg_pavlov_ratio
from backend.reading.models import Assignment, Case, LevelAnnotation

ANNOTATION_STATUSES = ("submitted",)
ITERATOR_CHUNK = 2000

_ANNOTATION_FIELDS = {
    "annotation_id": "pk",
    "project": "assignment__case__project__slug",
    "case_id": "assignment__case_id",
    "patient_id": "assignment__case__pair__patient__patient_id",
    "ct_study_uid": "assignment__case__pair__ct_study__study_uid",
    "mr_study_uid": "assignment__case__pair__mr_study__study_uid",
    "level": "level",
    "grade": "grade",
    "box": "box",
    "note": "note",
    "measurements": "measurements",
    "reader": "assignment__reader__username",
    "reader_experience": "assignment__reader__reader_profile__experience",
    "assignment_id": "assignment_id",
    "assignment_status": "assignment__status",
    "started_at": "assignment__started_at",
    "submitted_at": "assignment__submitted_at",
    "time_spent_s": "assignment__time_spent_s",
    "model_version_shown": "model_version_shown",
    "blinded": "assignment__case__blinded",
    "suggestion_shown": "suggestion_shown",
    "display": "display",
    "version": "version",
    "updated_at": "updated_at",
}

# The columns of an annotation row, in export order (`binary` is derived from `grade`).
ANNOTATION_COLUMNS = (
    "annotation_id",
    "project",
    "case_id",
    "patient_id",
    "ct_study_uid",
    "mr_study_uid",
    "level",
    "grade",
    "binary",
    "box",
    "note",
    "canal_ap_mm",
    "body_ap_mm",
    "torg_pavlov",
    "measurements",
    "reader",
    "reader_experience",
    "assignment_id",
    "assignment_status",
    "started_at",
    "submitted_at",
    "time_spent_s",
    "model_version_shown",
    "blinded",
    "suggestion_shown",
    "display",
    "version",
    "updated_at",
)


def _annotation_row(values: dict[str, Any]) -> dict[str, Any]:
    grade = values["grade"]
    values["binary"] = None if grade is None else grade >= 2
    measurements = values["measurements"] or {}
    values["canal_ap_mm"] = measurements.get("canal_ap", {}).get("mm")
    values["body_ap_mm"] = measurements.get("body_ap", {}).get("mm")
    values["torg_pavlov"] = torg_pavlov_ratio(measurements)
    return {column: values[column] for column in ANNOTATION_COLUMNS}


def annotation_export_rows(*, project: Project, status: str | None = None) -> Iterator[dict[str, Any]]:
    """One dict per level annotation of the project, with its provenance (one streamed query).

    `status="submitted"` keeps the levels of submitted readings only; None keeps drafts too.
    `time_spent_s` is the whole reading's time (the platform records it per case, not per level).
    """
    if status is not None and status not in ANNOTATION_STATUSES:
        raise ApplicationError(f"Unknown status {status!r}; use 'submitted'.", code="invalid_status")
    annotations = LevelAnnotation.objects.filter(assignment__case__project=project)
    if status is not None:
        annotations = annotations.filter(assignment__status=status)
    rows = annotations.order_by("assignment__case_id", "assignment__reader__username", "level").values(
        *_ANNOTATION_FIELDS.values()
    )
    names = {path: column for column, path in _ANNOTATION_FIELDS.items()}
    for values in rows.iterator(chunk_size=ITERATOR_CHUNK):
        yield _annotation_row({names[path]: value for path, value in values.items()})


def _reformat_size(*, rows: int, pixel_spacing: Any, z_max: float | None, z_min: float | None) -> tuple:
    """(width, height) of ml.imaging.sagittal_reformat for an axial CT series, from its header values.

    Rows of the reformat run from the most superior slice down at REFORMAT_SPACING_MM, columns
    along the axial rows (anterior to posterior) at the same spacing. None when unknown.
    """
    try:
        row_spacing = float(pixel_spacing[0])
    except (TypeError, ValueError, IndexError):
        return None, None
    if z_max is None or z_min is None or not rows or not (row_spacing > 0):
        return None, None
    height = int(math.floor((z_max - z_min) / REFORMAT_SPACING_MM)) + 1
    width = int(math.floor((rows - 1) * row_spacing / REFORMAT_SPACING_MM)) + 1
    return width, height


def _ct_reformat_geometry(*, project: Project) -> dict[int, dict[str, Any]]:
    """Per CT study of the project's cases: its largest CT series and the reformat's size (one query)."""
    z = Cast(KeyTextTransform("2", "instances__image_position"), FloatField())
    series = (
        Series.objects.filter(study__pair_as_ct__cases__project=project, modality=Modality.CT)
        .annotate(z_max=Max(z), z_min=Min(z))
        .values("study_id", "series_uid", "rows", "pixel_spacing", "z_max", "z_min")
        .order_by("study_id", "series_number", "pk")
    )
    found: dict[int, dict[str, Any]] = {}
    for s in series:
        extent = (s["z_max"] - s["z_min"]) if s["z_max"] is not None and s["z_min"] is not None else -1.0
        if s["study_id"] in found and found[s["study_id"]]["_extent"] >= extent:
            continue
        width, height = _reformat_size(
            rows=s["rows"], pixel_spacing=s["pixel_spacing"], z_max=s["z_max"], z_min=s["z_min"]
        )
        found[s["study_id"]] = {
            "series_uid": s["series_uid"],
            "width": width,
            "height": height,
            "_extent": extent,
        }
    return found


def coco_export_data(*, project: Project) -> dict[str, Any]:
    """The project's cases (one CT sagittal reformat each) and the boxes of submitted readings.

    Three queries: cases, CT series geometry, boxes. Returns plain data; formats.coco_document
    shapes it as COCO.
    """
    cases = list(
        Case.objects.filter(project=project)
        .order_by("pk")
        .values(
            "pk",
            "pair__ct_study_id",
            "pair__ct_study__study_uid",
            "pair__mr_study__study_uid",
            "pair__patient__patient_id",
        )
    )
    geometry = _ct_reformat_geometry(project=project)
    images = []
    for case in cases:
        g = geometry.get(case["pair__ct_study_id"], {})
        images.append(
            {
                "case_id": case["pk"],
                "ct_study_uid": case["pair__ct_study__study_uid"],
                "ct_series_uid": g.get("series_uid"),
                "mr_study_uid": case["pair__mr_study__study_uid"],
                "patient_id": case["pair__patient__patient_id"],
                "width": g.get("width"),
                "height": g.get("height"),
            }
        )
    boxes = (
        LevelAnnotation.objects.filter(
            assignment__case__project=project, assignment__status=Assignment.Status.SUBMITTED
        )
        .exclude(Q(box=None) | Q(grade=None))
        .order_by("assignment__case_id", "assignment__reader__username", "level")
        .values(
            "pk",
            "assignment__case_id",
            "level",
            "grade",
            "box",
            "assignment__reader__username",
            "assignment__reader__reader_profile__experience",
        )
    )
    annotations = [
        {
            "annotation_id": b["pk"],
            "case_id": b["assignment__case_id"],
            "level": b["level"],
            "grade": b["grade"],
            "box": b["box"],
            "reader": b["assignment__reader__username"],
            "reader_experience": b["assignment__reader__reader_profile__experience"],
        }
        for b in boxes.iterator(chunk_size=ITERATOR_CHUNK)
    ]
    return {"project": project.slug, "images": images, "annotations": annotations}


def flatten_metrics(metrics: Any, *, prefix: str = "") -> dict[str, Any]:
    """{"test": {"accuracy": 0.9}} -> {"test.accuracy": 0.9}; lists stay whole (written as JSON)."""
    if not isinstance(metrics, dict):
        return {prefix: metrics} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten_metrics(value, prefix=name))
        else:
            flat[name] = value
    return flat


MODEL_METRIC_COLUMNS = ("number", "label", "status", "created_at", "promoted_at", "error")


def model_metric_rows(*, project: Project) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): one row per model version (oldest first), metrics flattened with dots.

    The metric columns are the union of every version's keys, sorted, after the fixed ones.
    """
    versions = ModelVersion.objects.filter(project=project).order_by("number")
    rows, keys = [], set()
    for v in versions.values("number", "status", "created_at", "promoted_at", "error", "metrics"):
        flat = flatten_metrics(v.pop("metrics") or {})
        keys.update(flat)
        rows.append({**v, "label": f"{project.slug}-v{v['number']}", **flat})
    return [*MODEL_METRIC_COLUMNS, *sorted(keys - set(MODEL_METRIC_COLUMNS))], rows


READER_PERFORMANCE_COLUMNS = (
    "scope",
    "kind",
    "name",
    "experience",
    "readers",
    "task",
    "levels",
    "cases",
    "own_reference_levels",
    *(f"{metric}{part}" for metric in performance_selectors.METRICS for part in ("", "_ci_low", "_ci_high")),
)


def reader_performance_rows(*, project: Project) -> list[dict[str, Any]]:
    """performance_selectors.reader_performance flattened: per scope, each experience group, each reader and
    the seniors-minus-juniors difference (kind contrast), one row per task, every metric with its interval."""
    performance = performance_selectors.reader_performance(project=project)
    rows = []
    for scope in performance["scopes"]:
        entries = [("group", g["group"], g["group"], g) for g in scope["groups"]]
        entries += [("reader", r["reader"], r["experience"], {**r, "readers": 1}) for r in scope["readers"]]
        entries += [("contrast", f"{c['a']} - {c['b']}", "", c) for c in scope["contrasts"]]
        for kind, name, experience, entry in entries:
            for task in entry["tasks"]:
                counts = {k: entry.get(k) for k in ("readers", "levels", "cases", "own_reference_levels")}
                row = {
                    "scope": scope["scope"],
                    "kind": kind,
                    "name": name,
                    "experience": experience,
                    "task": task["task"],
                    **counts,
                }
                for metric in performance_selectors.METRICS:
                    value, (low, high) = task[metric]["value"], task[metric]["ci95"]
                    row.update({metric: value, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
                rows.append(row)
    return rows


@dataclass(frozen=True)
class ReadingForReport:
    """What a study's Structured Report says: one reader's submitted grades and what they rest on."""

    case: Case
    assignment: Assignment
    reader_experience: str | None
    grades: dict[str, int]
    ct_instances: list[dict[str, Any]]
    mr_instances: list[dict[str, Any]]


def reading_for_report(
    *, case_id: int, reader: str | None = None, projects: QuerySet[Project] | None = None
) -> ReadingForReport:
    """A case's submitted reading by `reader` (a username), or its most recently submitted one;
    with `projects`, only of a case in one of them (an admin's projects).

    Four queries whatever the size of the studies: case, assignment, grades, instances.
    """
    cases = Case.objects.select_related("project", "pair__patient", "pair__ct_study", "pair__mr_study")
    if projects is not None:
        cases = cases.filter(project__in=projects)
    case = cases.filter(pk=case_id).first()
    if case is None:
        raise ApplicationError(f"No case {case_id}.", code="not_found", status=404)
    assignments = Assignment.objects.filter(case=case, status=Assignment.Status.SUBMITTED).select_related(
        "reader__reader_profile"
    )
    if reader:
        assignments = assignments.filter(reader__username=reader)
    assignment = assignments.order_by("-submitted_at", "-pk").first()
    if assignment is None:
        who = f"by {reader!r} " if reader else ""
        raise ApplicationError(
            f"Case {case_id} has no submitted reading {who}yet.", code="no_reading", status=404
        )
    grades = dict(assignment.levels.exclude(grade=None).values_list("level", "grade"))
    missing = [level for level in LEVELS if level not in grades]
    if missing:  # a submitted reading has all six; guard against data edited by hand
        raise ApplicationError(
            f"The reading lacks grades at {', '.join(missing)}.", code="incomplete", status=409
        )
    study_ids = [sid for sid in (case.pair.ct_study_id, case.pair.mr_study_id) if sid]
    instances = (
        Instance.objects.filter(series__study_id__in=study_ids)
        .order_by("series__study_id", "series__series_number", "series_id", "instance_number", "sop_uid")
        .values(
            "series__study_id", "series__study__study_uid", "series__series_uid", "sop_uid", "sop_class_uid"
        )
    )
    ct, mr = [], []
    for i in instances:
        item = {
            "study_uid": i["series__study__study_uid"],
            "series_uid": i["series__series_uid"],
            "sop_uid": i["sop_uid"],
            "sop_class_uid": i["sop_class_uid"],
        }
        (ct if i["series__study_id"] == case.pair.ct_study_id else mr).append(item)
    profile = getattr(assignment.reader, "reader_profile", None)
    return ReadingForReport(
        case=case,
        assignment=assignment,
        reader_experience=profile.experience if profile else None,
        grades=grades,
        ct_instances=ct,
        mr_instances=mr,
    )


AUDIT_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "target", "details")


def audit_export_rows(*, project: Project, action: str | None = None) -> Iterator[dict[str, Any]]:
    """The project's audit entries as rows, newest first (one streamed query)."""
    entries = audit_entries_for_project(project=project, action=action).values(
        "id", "at", "actor_username", "action", "target_type", "target_id", "target_repr", "details"
    )
    for entry in entries.iterator(chunk_size=2000):
        yield {**entry, "actor": entry["actor_username"], "target": entry["target_repr"]}


def result_pushes_for_project(*, project: Project, status: str | None = None):
    """The project's SR pushes, newest first, with their case and reader."""
    from backend.exports.models import ResultPush

    pushes = ResultPush.objects.filter(case__project=project).select_related("assignment__reader")
    return pushes.filter(status=status) if status else pushes
