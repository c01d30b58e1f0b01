"""Reads of the reading app. A reader only ever sees their own annotations."""

import statistics
from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from backend.accounts.models import Role
from backend.common.exceptions import ApplicationError
from backend.common.geometry import distance_to_plane, image_plane
from backend.common.levels import LEVELS
from backend.projects.models import Allocation, Project
from backend.projects.selectors import project_get_for_user
from backend.reading.level_positions import level_positions_for_reader
from backend.reading.models import Assignment, Case, CaseAllocation, LevelAnnotation
from backend.reading.suggestions import study_suggestions, suggestion_label


def cases_readable(*, reader) -> QuerySet[Case]:
    """The cases of the reader's projects that can be read (their pair has both studies) and are
    theirs to read: all of them, or in a project that deals its cases, those dealt to them."""
    dealt = CaseAllocation.objects.filter(case=OuterRef("pk"), reader=reader)
    return Case.objects.filter(project__memberships__user=reader, pair__mr_study__isnull=False).filter(
        Q(project__allocation=Allocation.ALL) | Exists(dealt)
    )


def project_allocation_summary(*, project: Project) -> dict:
    """The project's allocation settings and, when it deals its cases, how many each reader holds
    and how many reads are still to be dealt (the cap or too few readers)."""
    summary = {
        "allocation": project.allocation,
        "reads_per_case": project.reads_per_case,
        "reader_case_cap": project.reader_case_cap,
        "readers": [],
        "undealt_reads": 0,
    }
    if project.allocation != Allocation.ROUND_ROBIN:
        return summary
    allocations = CaseAllocation.objects.filter(case__project=project)
    per_reader = (
        allocations.values("reader__username")
        .annotate(cases=Count("id"), for_adjudication=Count("id", filter=Q(for_adjudication=True)))
        .order_by("reader__username")
    )
    summary["readers"] = [
        {
            "reader": row["reader__username"],
            "cases": row["cases"],
            "for_adjudication": row["for_adjudication"],
        }
        for row in per_reader
    ]
    per_case = allocations.filter(for_adjudication=False).values("case_id").annotate(n=Count("id"))
    dealt = {row["case_id"]: row["n"] for row in per_case}
    summary["undealt_reads"] = sum(
        max(0, project.reads_per_case - dealt.get(case_id, 0))
        for case_id in project.cases.values_list("pk", flat=True)
    )
    return summary


def worklist_next(*, reader, project_slug: str | None = None) -> Case | None:
    """The highest-priority case this reader has not submitted."""
    submitted = Assignment.objects.filter(
        reader=reader, case=OuterRef("pk"), status=Assignment.Status.SUBMITTED
    )
    cases = cases_readable(reader=reader).exclude(Exists(submitted))
    if project_slug:
        cases = cases.filter(project__slug=project_slug)
    return cases.order_by("-priority", "pk").first()


def case_get_for_reader(*, reader, case_id: int) -> Case:
    case = (
        cases_readable(reader=reader)
        .filter(pk=case_id)
        .select_related("project", "pair__ct_study", "pair__mr_study", "pair__patient")
        .first()
    )
    if case is None:
        raise ApplicationError("No such case in your projects.", code="not_found", status=404)
    return case


def case_get_for_admin(*, admin, case_id: int) -> Case:
    """A case of a project the user administers (404 to anyone else, as for projects)."""
    case = Case.objects.filter(pk=case_id).select_related("project", "pair").first()
    if case is None:
        raise ApplicationError("No such case in your projects.", code="not_found", status=404)
    project_get_for_user(slug=case.project.slug, user=admin, role=Role.ADMIN)
    return case


def assignment_for_reader(*, reader, case: Case) -> Assignment | None:
    return Assignment.objects.filter(case=case, reader=reader).prefetch_related("levels").first()


def case_model_version_shown(*, case: Case, level: str) -> str:
    """The model version whose suggestion for this level the case's reading view offers: "" on a
    blinded case, before any champion and while the champion has not read the study."""
    if case.blinded:
        return ""
    return suggestion_label(project=case.project, study_id=case.pair.ct_study_id, level=level)


def case_suggestions(*, case: Case) -> dict:
    """What the reading view may show: nothing at all for blinded cases (not even that one exists)."""
    if case.blinded:
        return {"blinded": True, "levels": []}
    return {"blinded": False, **study_suggestions(project=case.project, study_id=case.pair.ct_study_id)}


def _series_with_instances(*, study) -> list[tuple]:
    """(series, its instances ordered as the reading view stacks them) for each series of a study."""
    found = []
    for series in study.series.order_by("series_number", "pk"):
        instances = list(
            series.instances.order_by("instance_number", "sop_uid").only(
                "series_id", "image_position", "image_orientation"
            )
        )
        if instances:
            found.append((series, instances))
    return found


def _plane(instances) -> str:
    return image_plane(instances[0].image_orientation)


def _spread(count: int) -> list[int]:
    """Six indices spread evenly over a stack of `count` images (levels lie inside its ends)."""
    if count <= 0:
        return [0] * len(LEVELS)
    return [round((k + 1) * (count - 1) / (len(LEVELS) + 1)) for k in range(len(LEVELS))]


def _nearest_slice(*, instances, point) -> int | None:
    """The stack index of the image whose plane passes nearest the point (patient mm)."""
    best, best_distance = None, float("inf")
    for k, instance in enumerate(instances):
        distance = distance_to_plane(
            point, position=instance.image_position, orientation=instance.image_orientation
        )
        if distance is None:
            return None
        if distance < best_distance:
            best, best_distance = k, distance
    return best


def case_level_positions(*, case: Case, reader=None) -> dict:
    """Where each level lies in the reading view's stacks, and the level position behind it.

    CT: the slice nearest the level's best position (the reader's own correction, then a trusted
    champion's, then the finder's: backend.reading.level_positions), else spread evenly. MR: instance
    k+1 of a disc-aligned axial series (one image per level), else the axial image nearest the MR
    level position, else spread. Blinded cases never get anything derived from the model.
    """
    ct = _series_with_instances(study=case.pair.ct_study)
    mr = _series_with_instances(study=case.pair.mr_study) if case.pair.mr_study_id else []
    ct_series, ct_instances = max(ct, key=lambda s: len(s[1])) if ct else (None, [])
    axial = [s for s in mr if _plane(s[1]) in ("axial", "unknown")]
    disc_aligned = [s for s in axial if len(s[1]) == len(LEVELS)]
    mr_axial = disc_aligned[0] if disc_aligned else max(axial or mr, key=lambda s: len(s[1]), default=None)
    sagittal = [s for s in mr if _plane(s[1]) == "sagittal"]
    mr_sagittal = max(sagittal, key=lambda s: len(s[1])) if sagittal else None
    positions = level_positions_for_reader(case=case, reader=reader)

    ct_even = _spread(len(ct_instances))
    mr_even = _spread(len(mr_axial[1])) if mr_axial else [None] * len(LEVELS)
    levels = []
    for k, level in enumerate(LEVELS):
        ct_position, mr_position = positions["CT"].get(level), positions["MR"].get(level)
        ct_index, ct_source = (ct_even[k], "even") if ct_instances else (None, "even")
        placed = ct_position and _nearest_slice(instances=ct_instances, point=ct_position["centre"])
        if placed is not None:
            ct_index, ct_source = placed, ct_position["source"]
        mr_index, mr_source = (mr_even[k], "even") if mr_axial else (None, "even")
        if mr_axial and disc_aligned:
            mr_index, mr_source = k, "disc_aligned"
        elif mr_axial and mr_position:
            found = _nearest_slice(instances=mr_axial[1], point=mr_position["centre"])
            if found is not None:
                mr_index, mr_source = found, mr_position["source"]
        levels.append(
            {
                "level": level,
                "ct_index": ct_index,
                "ct_source": ct_source,
                "mr_index": mr_index,
                "mr_source": mr_source,
                "ct_position": ct_position,
                "mr_position": mr_position,
            }
        )
    return {
        "ct_series_uid": ct_series.series_uid if ct_series else None,
        "mr_axial_series_uid": mr_axial[0].series_uid if mr_axial else None,
        "mr_sagittal_series_uid": mr_sagittal[0].series_uid if mr_sagittal else None,
        "levels": levels,
    }


def canal_ap_for_training(*, study_ids: list[int]) -> dict[int, dict[str, float]]:
    """Per CT study and level, the canal AP diameter its readers measured (the median of their
    submitted calipers), which teaches the model's own canal measurement."""
    measured: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rows = LevelAnnotation.objects.filter(
        assignment__case__pair__ct_study_id__in=study_ids,
        assignment__status=Assignment.Status.SUBMITTED,
        measurements__has_key="canal_ap",
    ).values_list("assignment__case__pair__ct_study_id", "level", "measurements")
    for study_id, level, measurements in rows:
        if mm := (measurements.get("canal_ap") or {}).get("mm"):
            measured[study_id][level].append(float(mm))
    return {
        study_id: {level: statistics.median(values) for level, values in levels.items()}
        for study_id, levels in measured.items()
    }
