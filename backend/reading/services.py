"""Writes of the reading app: cases, a reader's drafts and submissions, and their history."""

import math
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.common.hashing import stable_unit
from backend.common.levels import LEVELS
from backend.imaging.models import StudyPair
from backend.projects.models import Allocation, AuditAction, Project
from backend.projects.services import audit_record
from backend.reading.allocation import case_allocations_deal
from backend.reading.measurements import measurements_merge, measurements_valid
from backend.reading.models import AnnotationEvent, Assignment, Case, CaseAllocation, LevelAnnotation
from backend.reading.signals import assignment_submitted

_UNSET = object()


REFERENCE_PRIORITY = 100.0  # above any uncertainty score: the reference set is read first


def case_cold_start_priority(*, case: Case) -> float:
    """Random order until a model exists; the reference set is read first so the gate has ground."""
    random = stable_unit(case.project.slug, case.pair.ct_study.study_uid, "random")
    return REFERENCE_PRIORITY + random if case.in_reference_set else random


@transaction.atomic
def case_sync_for_project(*, project: Project) -> list[Case]:
    """A case for every paired CT study of the project that has none yet (idempotent).

    New cases join the frozen reference set while it holds less than `reference_share` of all
    cases (in a random order within a batch), so even a small project gets one and it stays the
    share it should be as studies arrive.
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one sync per project at a time
    pairs = StudyPair.objects.filter(ct_study__projects=project, mr_study__isnull=False).exclude(
        cases__project=project
    )
    pairs = sorted(
        pairs.select_related("ct_study"),
        key=lambda p: stable_unit(project.slug, p.ct_study.study_uid, "order"),
    )
    total = project.cases.count()
    in_reference = project.cases.filter(in_reference_set=True).count()
    created = []
    for pair in pairs:
        total += 1
        reference = in_reference < math.floor(project.reference_share * total + 0.5)
        in_reference += reference
        case = Case(
            project=project,
            pair=pair,
            in_reference_set=reference,
            blinded=stable_unit(project.slug, pair.ct_study.study_uid, "blind") < project.blinded_share,
        )
        case.priority = case_cold_start_priority(case=case)
        created.append(case)
    created = Case.objects.bulk_create(created, ignore_conflicts=True)
    case_allocations_deal(project=project)
    return created


MAX_REFERENCE_SET_MOVE = 1000


@transaction.atomic
def reference_set_update(
    *, project: Project, case_ids: Sequence[int], in_reference_set: bool, actor=None
) -> list[Case]:
    """Put cases into the project's frozen reference set or take them out, all of them or none (an
    admin's choice: a reference set with pathology in it makes the gate's kappa mean something).

    Only before anyone has submitted a reading of a case: the reference set's labels are never
    trained on, so a case whose labels may already have gone into a training cannot join it, and
    one whose frozen labels a gate has judged on stays where it is. Returns the cases, by id.
    """
    ids = sorted(set(case_ids))
    if len(ids) > MAX_REFERENCE_SET_MOVE:
        raise ApplicationError(
            f"At most {MAX_REFERENCE_SET_MOVE} cases move at once; {len(ids)} were given.", code="too_many"
        )
    cases = list(
        project.cases.select_for_update()
        .select_related("project", "pair__ct_study")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    missing = sorted(set(ids) - {case.pk for case in cases})
    if missing:
        raise ApplicationError(
            f"No case {_id_list(missing)} in project {project.slug!r}; nothing was changed.",
            code="not_found",
            status=404,
            extra={"case_ids": missing},
        )
    moving = [case for case in cases if case.in_reference_set != in_reference_set]
    submitted = Assignment.objects.filter(case__in=moving, status=Assignment.Status.SUBMITTED)
    read = sorted(set(submitted.values_list("case_id", flat=True)))
    if read:
        raise ApplicationError(
            f"Case {_id_list(read)} has submitted readings; the reference set can only change "
            "before a case is read. Nothing was changed.",
            code="case_read",
            status=409,
            extra={"case_ids": read},
        )
    for case in moving:
        case.in_reference_set = in_reference_set
        case.priority = case_cold_start_priority(case=case)
    Case.objects.bulk_update(moving, ["in_reference_set", "priority"])
    if moving:
        audit_record(
            actor=actor,
            action=AuditAction.REFERENCE_SET_MOVE,
            project=project,
            details={"case_ids": [case.pk for case in moving], "in_reference_set": in_reference_set},
        )
    return cases


def _id_list(ids: list[int], shown: int = 10) -> str:
    listed = ", ".join(map(str, ids[:shown]))
    return listed if len(ids) <= shown else f"{listed} (and {len(ids) - shown} more)"


def case_reference_set_update(*, case: Case, in_reference_set: bool, actor=None) -> Case:
    """One case into the frozen reference set or out of it (see `reference_set_update`)."""
    (case,) = reference_set_update(
        project=case.project, case_ids=[case.pk], in_reference_set=in_reference_set, actor=actor
    )
    return case


def assignment_open(*, case: Case, reader) -> Assignment:
    if not case.project.memberships.filter(user=reader).exists():
        raise ApplicationError("You are not a reader of this project.", code="not_member", status=403)
    if (
        case.project.allocation == Allocation.ROUND_ROBIN
        and not CaseAllocation.objects.filter(case=case, reader=reader).exists()
        and not Assignment.objects.filter(case=case, reader=reader).exists()
    ):
        raise ApplicationError("This case is not dealt to you.", code="not_dealt", status=403)
    assignment, _ = Assignment.objects.get_or_create(case=case, reader=reader)
    return assignment


def _snapshot(annotation: LevelAnnotation) -> dict[str, Any]:
    return {
        "grade": annotation.grade,
        "box": annotation.box,
        "note": annotation.note,
        "measurements": annotation.measurements,
        "version": annotation.version,
        "display": annotation.display,
    }


MAX_BOX_PIXELS = 4096  # beyond any sagittal reformat's side


def _valid_box(box: Any) -> list[float] | None:
    if box is None:
        return None
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise ApplicationError("box must be [x0, y0, x1, y1].", code="invalid_box")
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ApplicationError("box coordinates must be numbers.", code="invalid_box") from None
    if (
        not all(math.isfinite(v) and 0 <= v <= MAX_BOX_PIXELS for v in (x0, y0, x1, y1))
        or x1 <= x0
        or y1 <= y0
    ):
        raise ApplicationError(
            f"box needs 0 <= x0 < x1 <= {MAX_BOX_PIXELS} and 0 <= y0 < y1 <= {MAX_BOX_PIXELS}.",
            code="invalid_box",
        )
    return [x0, y0, x1, y1]


Display = LevelAnnotation.Display
CLIENT_DISPLAYS = (Display.SHOWN, Display.HIDDEN, Display.NO_MODEL)


def _display_record(
    *, annotation: LevelAnnotation, case: Case, model_version_shown: str, display: str
) -> None:
    if case.blinded:
        display = Display.BLINDED
    elif not model_version_shown:
        display = Display.NO_MODEL
    annotation.display = display
    annotation.model_version_shown = model_version_shown if display in (Display.SHOWN, Display.HIDDEN) else ""
    annotation.suggestion_shown = display == Display.SHOWN


@transaction.atomic
def level_annotation_save(
    *,
    assignment: Assignment,
    level: str,
    user,
    version: int | None,
    grade: Any = _UNSET,
    box: Any = _UNSET,
    note: Any = _UNSET,
    measurements: Any = _UNSET,
    model_version_shown: str = "",
    display: str = LevelAnnotation.Display.SHOWN,
) -> LevelAnnotation:
    """Create or update a draft grade/box/note at one level, refusing stale edits.

    `version` is the version the client last saw (None for a level it has never saved); a
    mismatch means someone (another tab) changed it meanwhile: 409, nothing overwritten.
    `model_version_shown` is the champion whose suggestion for this level the view offers (the
    server's word, "" when none) and `display` what the client says it showed: shown, hidden (the
    reader pressed h) or no_model. Both are recorded when the level is created and whenever its
    grade is set; a blinded case is recorded as blinded and a level without a suggestion as no_model,
    whatever the client says.
    """
    if level not in LEVELS:
        raise ApplicationError(f"Unknown level {level!r}.", code="invalid_level")
    if display not in CLIENT_DISPLAYS:
        raise ApplicationError(
            f"display must be one of {', '.join(CLIENT_DISPLAYS)}.", code="invalid_display"
        )
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.reader_id != user.pk:
        raise ApplicationError("This is another reader's reading.", code="not_yours", status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise ApplicationError(
            "This case is submitted; it can no longer change.", code="submitted", status=409
        )
    if (
        grade is not _UNSET
        and grade is not None
        and (not isinstance(grade, int) or isinstance(grade, bool) or not 0 <= grade <= 3)
    ):
        raise ApplicationError("grade must be an integer from 0 to 3.", code="invalid_grade")
    if box is not _UNSET:
        box = _valid_box(box)
    if measurements is not _UNSET:
        measurements = measurements_valid(measurements)
    annotation = (
        LevelAnnotation.objects.select_for_update().filter(assignment=assignment, level=level).first()
    )
    if annotation is None:
        if version not in (None, 0):
            raise ApplicationError("This level was never saved.", code="stale", status=409)
        annotation = LevelAnnotation(assignment=assignment, level=level)
        before, action = None, "create"
    else:
        if version != annotation.version:
            raise ApplicationError(
                "This level changed since you loaded it.",
                code="stale",
                status=409,
                extra={"current": _snapshot(annotation)},
            )
        before, action = _snapshot(annotation), "update"
        annotation.version += 1
    if measurements is not _UNSET:
        annotation.measurements = measurements_merge(current=annotation.measurements, changes=measurements)
    for field, value in (("grade", grade), ("box", box), ("note", note)):
        if value is not _UNSET:
            setattr(annotation, field, value if field != "note" else str(value or ""))
    if action == "create" or grade is not _UNSET:
        _display_record(
            annotation=annotation,
            case=assignment.case,
            model_version_shown=model_version_shown,
            display=display,
        )
    annotation.save()
    AnnotationEvent.objects.create(
        annotation=annotation, user=user, action=action, before=before, after=_snapshot(annotation)
    )
    return annotation


@transaction.atomic
def assignment_submit(
    *, assignment: Assignment, user, time_spent_s: float = 0.0, notify_learning: bool = True
) -> Assignment:
    """Submit a reading: every level must have a grade. Records the reading time.

    Announces assignment_submitted, on which the learning loop runs once committed (consensus,
    adjudication, agreement, retraining); a caller that drives the loop itself (the simulation)
    passes notify_learning=False.
    """
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.reader_id != user.pk:
        raise ApplicationError("This is another reader's reading.", code="not_yours", status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise ApplicationError("This case is submitted already.", code="submitted", status=409)
    # The case's row too: a reference-set change in flight lands first, so the consensus after this
    # submission freezes (or not) the labels as the case's final membership says.
    Case.objects.select_for_update().filter(pk=assignment.case_id).first()
    graded = dict(assignment.levels.exclude(grade=None).values_list("level", "grade"))
    missing = [level for level in LEVELS if level not in graded]
    if missing:
        raise ApplicationError(
            f"Grade every level before submitting; missing: {', '.join(missing)}.",
            code="incomplete",
            status=409,
            extra={"missing_levels": missing},
        )
    if not (math.isfinite(time_spent_s) and 0 <= time_spent_s < 24 * 3600):
        raise ApplicationError("time_spent_s must lie between 0 and a day.", code="invalid_time")
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.time_spent_s += time_spent_s
    assignment.save()
    for annotation in assignment.levels.all():
        AnnotationEvent.objects.create(
            annotation=annotation,
            user=user,
            action="submit",
            before=_snapshot(annotation),
            after=_snapshot(annotation),
        )
    if notify_learning:
        assignment_submitted.send(sender=Assignment, assignment=assignment)
    return assignment
