"""Reads of the reading app. A reader only ever sees their own annotations."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from backend.common.exceptions import ApplicationError
from backend.learning.selectors import champion_label, study_suggestions
from backend.reading.models import Assignment, Case


@dataclass(frozen=True)
class WorklistEntry:
    case: Case
    status: str  # new | draft | submitted


def worklist_for_reader(*, reader, project_slug: str | None = None) -> list[WorklistEntry]:
    """The reader's cases: unread ones by priority (the next case first), then drafts, then submitted."""
    cases = Case.objects.filter(project__memberships__user=reader).select_related(
        "project", "pair__ct_study", "pair__mr_study", "pair__patient"
    )
    if project_slug:
        cases = cases.filter(project__slug=project_slug)
    mine = {a.case_id: a.status for a in Assignment.objects.filter(reader=reader, case__in=cases)}
    entries = [WorklistEntry(case, mine.get(case.pk, "new")) for case in cases.order_by("-priority", "pk")]
    rank = {"draft": 0, "new": 1, "submitted": 2}
    return sorted(entries, key=lambda e: rank[e.status])  # stable: priority order within each status


def worklist_next(*, reader, project_slug: str | None = None) -> Case | None:
    """The highest-priority case this reader has not submitted."""
    submitted = Assignment.objects.filter(
        reader=reader, case=OuterRef("pk"), status=Assignment.Status.SUBMITTED
    )
    cases = Case.objects.filter(project__memberships__user=reader).exclude(Exists(submitted))
    if project_slug:
        cases = cases.filter(project__slug=project_slug)
    return cases.order_by("-priority", "pk").first()


def case_get_for_reader(*, reader, case_id: int) -> Case:
    case = (
        Case.objects.filter(pk=case_id, project__memberships__user=reader)
        .select_related("project", "pair__ct_study", "pair__mr_study", "pair__patient")
        .first()
    )
    if case is None:
        raise ApplicationError("No such case in your projects.", code="not_found", status=404)
    return case


def assignment_for_reader(*, reader, case: Case) -> Assignment | None:
    return Assignment.objects.filter(case=case, reader=reader).prefetch_related("levels").first()


def case_model_version_shown(*, case: Case) -> str:
    """The model version whose suggestions this case's reading view shows ("" when none or blinded)."""
    return "" if case.blinded else champion_label(project=case.project)


def case_suggestions(*, case: Case) -> dict:
    """What the reading view may show: nothing at all for blinded cases (not even that one exists)."""
    if case.blinded:
        return {"blinded": True, "levels": []}
    return {"blinded": False, **study_suggestions(project=case.project, study_id=case.pair.ct_study_id)}
