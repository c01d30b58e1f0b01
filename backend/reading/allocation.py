"""Who reads which case: a project's allocation mode, the round-robin deal of cases to readers, and
the senior who adjudicates a case's disagreements."""

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, OuterRef, Q

from backend.accounts.models import Experience, Role
from backend.common.exceptions import ApplicationError
from backend.projects.models import Allocation, AuditAction, Membership, Project
from backend.projects.services import audit_record
from backend.reading.models import Assignment, Case, CaseAllocation


def _dealt_readers(project: Project) -> list[int]:
    """The users cases are dealt to: the project's members with the reader role, in joining order."""
    members = Membership.objects.filter(project=project, role=Role.READER).order_by("created_at", "pk")
    return list(members.values_list("user_id", flat=True))


@transaction.atomic
def case_allocations_deal(*, project: Project, redeal: bool = False) -> int:
    """Deal the project's cases to its readers round-robin (Project.allocation), each case to
    `reads_per_case` readers and no reader more than `reader_case_cap` cases; returns how many
    reads were dealt. Cases go in worklist order, each to the readers holding the fewest cases
    (ties in joining order), so the dealing rotates. A reader keeps every case they have opened;
    cases of someone no longer a reader go back unless opened. `redeal` (after a change of
    readers or settings) first takes back every case nobody has opened, so the load evens out.
    Does nothing for a project whose readers all read every case."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    project.refresh_from_db(fields=["allocation", "reads_per_case", "reader_case_cap"])
    if project.allocation != Allocation.ROUND_ROBIN:
        return 0
    readers = _dealt_readers(project)
    allocations = CaseAllocation.objects.filter(case__project=project)
    opened = Assignment.objects.filter(case__project=project)
    unopened = allocations.exclude(
        reader_id__in=opened.filter(case_id=OuterRef("case_id")).values("reader_id")
    )
    unopened.exclude(reader_id__in=readers).delete()
    if redeal:
        unopened.filter(for_adjudication=False).delete()
    CaseAllocation.objects.bulk_create(
        [
            CaseAllocation(case_id=case_id, reader_id=reader_id)
            for case_id, reader_id in opened.values_list("case_id", "reader_id")
        ],
        ignore_conflicts=True,
    )
    held: dict[int, set[int]] = defaultdict(set)
    load: Counter[int] = Counter()
    for case_id, reader_id in allocations.filter(for_adjudication=False).values_list("case_id", "reader_id"):
        held[case_id].add(reader_id)
        load[reader_id] += 1
    order = {reader_id: k for k, reader_id in enumerate(readers)}
    cap = project.reader_case_cap
    dealt = []
    for case_id in project.cases.order_by("-priority", "pk").values_list("pk", flat=True):
        wanted = max(0, project.reads_per_case - len(held[case_id]))
        free = [r for r in readers if r not in held[case_id] and (cap is None or load[r] < cap)]
        for reader_id in sorted(free, key=lambda r: (load[r], order[r]))[:wanted]:
            dealt.append(CaseAllocation(case_id=case_id, reader_id=reader_id))
            held[case_id].add(reader_id)
            load[reader_id] += 1
    CaseAllocation.objects.bulk_create(dealt, ignore_conflicts=True)
    return len(dealt)


@transaction.atomic
def case_adjudicators_deal(*, cases: Iterable[Case]) -> int:
    """A case of a round-robin project whose readers disagree goes to a senior reader of the project
    who does not hold it yet (the one with the fewest cases): they read it, then decide the
    disagreement (a senior sees an adjudication only after reading the case). Returns how many
    cases were dealt."""
    dealt = 0
    for case in {case.pk: case for case in cases}.values():
        if case.project.allocation != Allocation.ROUND_ROBIN:
            continue
        holders = CaseAllocation.objects.filter(case=case).values("reader_id")
        seniors = Membership.objects.filter(
            project=case.project, role=Role.READER, user__reader_profile__experience=Experience.SENIOR
        )
        if seniors.filter(user_id__in=holders).exists():
            continue
        senior = (
            seniors.annotate(
                held=Count(
                    "user__case_allocations", filter=Q(user__case_allocations__case__project=case.project)
                )
            )
            .order_by("held", "created_at", "pk")
            .first()
        )
        if senior is not None:
            CaseAllocation.objects.get_or_create(
                case=case, reader_id=senior.user_id, defaults={"for_adjudication": True}
            )
            dealt += 1
    return dealt


@transaction.atomic
def project_allocation_set(
    *,
    project: Project,
    allocation: str,
    reads_per_case: int | None = None,
    reader_case_cap: int | None = None,
    actor=None,
) -> Project:
    """How the project's cases reach its readers: every case to every reader (all), or dealt
    round-robin, `reads_per_case` readers a case, at most `reader_case_cap` cases a reader (None:
    no cap). The cases are dealt again at once (a reader keeps the cases they have opened)."""
    if allocation not in Allocation.values:
        raise ApplicationError(f"Unknown allocation {allocation!r}.", code="invalid_allocation")
    if (reads_per_case is not None and reads_per_case < 1) or (
        reader_case_cap is not None and reader_case_cap < 1
    ):
        raise ApplicationError(
            "reads_per_case and reader_case_cap must be at least 1.", code="invalid_setting"
        )
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = {
        "allocation": project.allocation,
        "reads_per_case": project.reads_per_case,
        "reader_case_cap": project.reader_case_cap,
    }
    project.allocation = allocation
    project.reads_per_case = reads_per_case if reads_per_case is not None else project.reads_per_case
    project.reader_case_cap = reader_case_cap
    project.save(update_fields=["allocation", "reads_per_case", "reader_case_cap"])
    after = {
        "allocation": project.allocation,
        "reads_per_case": project.reads_per_case,
        "reader_case_cap": project.reader_case_cap,
    }
    audit_record(
        actor=actor,
        action=AuditAction.ALLOCATION_SET,
        project=project,
        target=project,
        details={"from": before, "to": after},
    )
    case_allocations_deal(project=project, redeal=True)
    return project
