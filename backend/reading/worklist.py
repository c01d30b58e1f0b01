"""The reader's worklist: their status per case (a join to their own assignment), filters, sorts and
pages in SQL over narrow rows, then the page's cases in full, so that a project of 100,000 cases
answers a page about as fast as one of ten."""

from dataclasses import dataclass

from django.db.models import Case as SqlCase
from django.db.models import (
    CharField,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from backend.reading.models import Assignment, Case, LevelAnnotation
from backend.reading.selectors import cases_readable

STATUSES = ("new", "draft", "submitted")
# "priority": the reading order (drafts, then unread cases by priority, then submitted ones);
# "date" and "-date": by when the case was made, oldest or newest first, whatever its status.
SORTS = {
    "priority": ("status_rank", "-priority", "pk"),
    "date": ("created_at", "pk"),
    "-date": ("-created_at", "-pk"),
}


@dataclass(frozen=True)
class WorklistFilters:
    project: str | None = None
    status: str | None = None
    reference: bool | None = None  # in the frozen reference set or not
    search: str = ""  # part of the patient id
    disagreement: int | None = None  # submitted cases whose reads differ by this many grades or more
    sort: str = "priority"


def _with_my_status(cases: QuerySet[Case], reader) -> QuerySet[Case]:
    """The cases with `my_status`: the reader's status on each, through a join to their own
    assignment (at most one; none is "new")."""
    return cases.annotate(
        mine=FilteredRelation("assignments", condition=Q(assignments__reader=reader)),
        my_status=Coalesce(F("mine__status"), Value("new"), output_field=CharField()),
    )


def _grade_spread() -> Subquery:
    """The largest difference between two submitted grades of one level of the case."""
    per_level = (
        LevelAnnotation.objects.filter(
            assignment__case=OuterRef("pk"),
            assignment__status=Assignment.Status.SUBMITTED,
            grade__isnull=False,
        )
        .values("level")
        .annotate(spread=Max("grade") - Min("grade"))
        .order_by("-spread")
        .values("spread")[:1]
    )
    return Subquery(per_level, output_field=IntegerField())


def worklist_cases(*, reader, filters: WorklistFilters) -> QuerySet[Case]:
    """The reader's cases, filtered and in order, narrow rows to count and page (`worklist_page`
    then loads a page's cases in full)."""
    cases = _with_my_status(cases_readable(reader=reader), reader).annotate(
        status_rank=SqlCase(When(my_status="draft", then=0), When(my_status="new", then=1), default=2),
    )
    if filters.project:
        cases = cases.filter(project__slug=filters.project)
    if filters.status:
        cases = cases.filter(my_status=filters.status)
    if filters.reference is not None:
        cases = cases.filter(in_reference_set=filters.reference)
    if filters.search:
        cases = cases.filter(pair__patient__patient_id__icontains=filters.search)
    if filters.disagreement is not None:
        cases = cases.filter(my_status="submitted").annotate(spread=_grade_spread())
        cases = cases.filter(spread__gte=filters.disagreement)
    return cases.order_by(*SORTS[filters.sort])


def worklist_page(*, reader, case_ids: list[int]) -> list[Case]:
    """The page's cases in full, in the page's order, each with `my_status` and `disagreement`
    (known only on cases the reader has submitted: before that, what colleagues graded is hidden)."""
    found = (
        _with_my_status(Case.objects.filter(pk__in=case_ids), reader)
        .annotate(disagreement=SqlCase(When(my_status="submitted", then=_grade_spread()), default=None))
        .select_related("project", "pair__ct_study", "pair__mr_study", "pair__patient")
    )
    by_id = {case.pk: case for case in found}
    return [by_id[pk] for pk in case_ids if pk in by_id]


def worklist_counts(*, reader, project: str | None = None) -> dict[str, int]:
    """How many of the reader's cases they have submitted, and how many remain."""
    cases = _with_my_status(cases_readable(reader=reader), reader)
    if project:
        cases = cases.filter(project__slug=project)
    counts = cases.aggregate(total=Count("pk"), done=Count("pk", filter=Q(my_status="submitted")))
    return {"done": counts["done"], "remaining": counts["total"] - counts["done"]}
