"""The whole learning loop on a synthetic cohort, with simulated readers instead of radiologists.

Readers take cases in worklist order (the frozen reference set first, read by everyone; then the
highest-priority unread case, read by `reads_per_case` readers in turn) and grade each level as
`ml.synthetic.readers` says a reader of their experience would, drawing the true ROI box. After
every case the loop does what the workers do: consensus, adjudication, agreement snapshots, a
training once enough new labels came in (run here, in process), the gate, pre-annotation and new
priorities.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef

from backend.accounts.models import Experience, Role
from backend.accounts.services import reader_ensure
from backend.common.levels import LEVELS
from backend.learning import ml_bridge
from backend.learning.models import AdjudicationItem, ModelVersion, ReferenceLabel
from backend.learning.services import (
    adjudication_resolve,
    preannotation_cycle,
    project_labels_submitted,
    training_run_execute,
)
from backend.projects.models import Project
from backend.projects.services import project_member_add
from backend.reading.models import Assignment, Case
from backend.reading.selectors import case_model_version_shown
from backend.reading.services import (
    assignment_open,
    assignment_submit,
    level_annotation_save,
)

if TYPE_CHECKING:
    from backend.learning.ml_bridge import SimulatedReader

SIMULATED_PASSWORD = "simulated-reader-pass"


@dataclass(frozen=True)
class PanelMember:
    user: object
    reader: SimulatedReader


def simulation_panel_ensure(*, project: Project, seniors: int, juniors: int, seed: int) -> list[PanelMember]:
    """Simulated reader accounts (sim-senior-1, sim-junior-1, ...), members of the project."""
    panel = []
    for experience, count in ((Experience.SENIOR, seniors), (Experience.JUNIOR, juniors)):
        for k in range(count):
            name = f"sim-{experience}-{k + 1}"
            profile, _ = reader_ensure(
                username=name, password=SIMULATED_PASSWORD, experience=experience, role=Role.READER
            )
            project_member_add(project=project, user=profile.user)
            reader = ml_bridge.simulated_reader_make(name=name, experience=experience, seed=seed)
            panel.append(PanelMember(profile.user, reader))
    return panel


def manifest_levels(*, cohort_dir: Path) -> dict[str, dict[str, dict]]:
    """patient id -> level -> the generator's truth (severity, ROI box) for that level."""
    manifest = json.loads((Path(cohort_dir) / "manifest.json").read_text())
    return {p["patient_id"]: {lv["level"]: lv for lv in p["levels"]} for p in manifest["patients"]}


def case_read_simulated(
    *, case: Case, member: PanelMember, truth: dict[str, dict], seed: int, boxes: bool = True
) -> Assignment:
    """One simulated reading; with boxes=False the reader grades by keyboard only and draws no box."""
    assignment = assignment_open(case=case, reader=member.user)
    if assignment.status == Assignment.Status.SUBMITTED:
        return assignment
    patient_id = case.pair.patient.patient_id
    versions = dict(assignment.levels.values_list("level", "version"))
    for level in LEVELS:
        grade = ml_bridge.simulated_grade(
            reader=member.reader,
            severity=truth[level]["severity"],
            patient_id=patient_id,
            level=level,
            seed=seed,
        )
        level_annotation_save(
            assignment=assignment,
            level=level,
            user=member.user,
            version=versions.get(level),
            grade=grade,
            box=truth[level]["roi_sagittal"] if boxes else None,
            model_version_shown=case_model_version_shown(case=case, level=level),
        )
    return assignment_submit(
        assignment=assignment, user=member.user, time_spent_s=60.0, notify_learning=False
    )


def _adjudicate(
    *, project: Project, panel: list[PanelMember], truth_of: Callable[[Case], dict], seed: int
) -> int:
    """The first simulated senior settles open disagreements with a careful (senior) reading."""
    seniors = [m for m in panel if m.reader.experience == Experience.SENIOR]
    if not seniors:
        return 0
    items = AdjudicationItem.objects.filter(
        case__project=project, status=AdjudicationItem.Status.OPEN
    ).select_related("case__pair__patient")
    for item in items:
        truth = truth_of(item.case)[item.level]
        grade = ml_bridge.simulated_grade(
            reader=seniors[0].reader,
            severity=truth["severity"],
            patient_id=item.case.pair.patient.patient_id,
            level=item.level,
            seed=seed + 1,
        )
        adjudication_resolve(item=item, user=seniors[0].user, grade=grade, note="simulated adjudication")
    return len(items)


def _next_case(*, project: Project) -> Case | None:
    read = Assignment.objects.filter(case=OuterRef("pk"), status=Assignment.Status.SUBMITTED)
    return (
        Case.objects.filter(project=project)
        .exclude(Exists(read))
        .select_related("pair__patient", "pair__ct_study")
        .order_by("-priority", "pk")
        .first()
    )


def simulate_reading(
    *,
    project: Project,
    cohort_dir: Path,
    panel: list[PanelMember],
    reads_per_case: int = 1,
    max_labels: int | None = None,
    stop_at_kappa: float | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
    boxes: bool = True,
    train_on_worker: bool = False,
) -> list[dict]:
    """Run the loop until every case is read, max_labels training labels are in, or a new version's
    reference kappa reaches stop_at_kappa; returns the learning curve. With `train_on_worker` the
    trainings the labels start are queued for the Celery worker, as readers' would be, and the
    reading does not wait for them (nor records a curve)."""
    truth_by_patient = manifest_levels(cohort_dir=cohort_dir)
    curve: list[dict] = []
    turn = 0
    while (case := _next_case(project=project)) is not None:
        truth = truth_by_patient[case.pair.patient.patient_id]
        frozen = case.in_reference_set
        readers = (
            panel
            if frozen
            else [panel[(turn + k) % len(panel)] for k in range(min(reads_per_case, len(panel)))]
        )
        turn += 0 if frozen else 1
        for member in readers:
            case_read_simulated(case=case, member=member, truth=truth, seed=seed, boxes=boxes)
        outcome = project_labels_submitted(project=project, queue_training=train_on_worker)
        truth_of = lambda c: truth_by_patient[c.pair.patient.patient_id]  # noqa: E731
        if _adjudicate(project=project, panel=panel, truth_of=truth_of, seed=seed):
            again = project_labels_submitted(
                project=project, queue_training=train_on_worker
            )  # the adjudicated grades join the labels
            outcome["training_run"] = outcome["training_run"] or again["training_run"]
        labels = ReferenceLabel.objects.filter(case__project=project, frozen=False).count()
        if outcome["training_run"] and train_on_worker:
            log(f"  {labels} labels: training run {outcome['training_run']} queued for the worker")
        elif outcome["training_run"]:
            run = training_run_execute(run_id=outcome["training_run"], worker="simulation")
            preannotation_cycle()
            version = ModelVersion.objects.get(pk=run.model_version_id) if run.model_version_id else None
            point = {
                "labels": run.labels_used,
                "run": run.pk,
                "status": run.status,
                "model_version": version.label if version else None,
                "promoted": bool(version and version.status == ModelVersion.Status.CHAMPION),
                "reference": (version.metrics.get("reference", {}) if version else {}),
                "error": run.error,
            }
            curve.append(point)
            ref = point["reference"]
            log(
                f"  {labels} labels: {point['model_version'] or 'no model'} {run.status}"
                f" reference kappa {ref.get('kappa_quadratic', float('nan')):.3f} (n={ref.get('n', 0)})"
                f"{' promoted' if point['promoted'] else ''}{' ' + run.error if run.error else ''}"
            )
        if max_labels is not None and labels >= max_labels:
            break
        reached = curve and outcome["training_run"] and (curve[-1]["reference"].get("kappa_quadratic") or -1)
        if stop_at_kappa is not None and reached and reached >= stop_at_kappa:
            break
    return curve
