"""Reference labels from the readers' submitted grades, and the adjudication queue."""

from collections import Counter, defaultdict

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Experience
from backend.common.exceptions import ApplicationError
from backend.learning.models import AdjudicationItem, LevelPrediction, ModelVersion, ReferenceLabel
from backend.learning.signals import reference_labels_updated
from backend.projects.models import Project
from backend.reading.allocation import case_adjudicators_deal
from backend.reading.models import Case, LevelAnnotation

DISAGREEMENT = 2  # grades apart before a senior must decide
READERS, MODEL = AdjudicationItem.Reason.READERS_DISAGREE, AdjudicationItem.Reason.MODEL_SENIOR_DISAGREE


def consensus_grade(grades: list[int]) -> int:
    """The most frequent grade; a tie goes to the higher grade (the conservative call)."""
    counts = Counter(grades)
    return max(counts, key=lambda g: (counts[g], g))


def _mean_box(boxes: list[list[float]]) -> list[float] | None:
    if not boxes:
        return None
    return [round(sum(b[k] for b in boxes) / len(boxes), 2) for k in range(4)]


def reference_labels_update(*, project: Project) -> dict[str, int]:
    """Recompute every read level's reference label and queue new disagreements for adjudication.

    Senior readers outvote juniors; an adjudicated grade outvotes everyone. A level whose readers
    differ by 2 grades or more has no reference label until a senior adjudicates it, even when the
    model and a senior disagreed there before: each reason has its own item, and the readers' decides.
    """
    readings: dict[tuple[int, str], list[tuple[str, str, int, list | None]]] = defaultdict(list)
    rows = LevelAnnotation.objects.filter(
        assignment__case__project=project, assignment__status="submitted", grade__isnull=False
    ).values_list(
        "assignment__case_id",
        "level",
        "assignment__reader__username",
        "assignment__reader__reader_profile__experience",
        "grade",
        "box",
    )
    for case_id, level, reader, experience, grade, box in rows:
        readings[(case_id, level)].append((reader, experience, grade, box))
    cases = {
        c.pk: c for c in Case.objects.filter(pk__in={k[0] for k in readings}).select_related("pair__ct_study")
    }
    items: dict[tuple[int, str], dict[str, AdjudicationItem]] = defaultdict(dict)
    for existing in AdjudicationItem.objects.filter(case__project=project):
        items[(existing.case_id, existing.level)][existing.reason] = existing
    champion_grades = _champion_grades(project=project, cases=cases.values())

    labels, new_items = [], []
    for (case_id, level), reads in readings.items():
        case = cases[case_id]
        grades = [g for _, _, g, _ in reads]
        seniors = {r: g for r, e, g, _ in reads if e == Experience.SENIOR}
        level_items = items[(case_id, level)]
        if READERS not in level_items and max(grades) - min(grades) >= DISAGREEMENT:
            level_items[READERS] = AdjudicationItem(
                case=case, level=level, reason=READERS, grades={r: g for r, _, g, _ in reads}
            )
            new_items.append(level_items[READERS])
        model_grade = champion_grades.get((case.pair.ct_study_id, level))
        if (
            not level_items
            and model_grade is not None
            and seniors
            and max(abs(model_grade["grade"] - g) for g in seniors.values()) >= DISAGREEMENT
        ):
            disputed = {**seniors, model_grade["label"]: model_grade["grade"]}
            level_items[MODEL] = AdjudicationItem(case=case, level=level, reason=MODEL, grades=disputed)
            new_items.append(level_items[MODEL])
        item = level_items.get(READERS) or level_items.get(MODEL)
        if item is not None and item.status == AdjudicationItem.Status.RESOLVED:
            grade, source = item.resolved_grade, ReferenceLabel.Source.ADJUDICATED
        elif item is not None and item.reason == READERS:
            continue  # no label until a senior decides
        elif len(grades) == 1:
            grade, source = grades[0], ReferenceLabel.Source.SINGLE
        elif seniors:
            grade, source = consensus_grade(list(seniors.values())), ReferenceLabel.Source.SENIOR
        else:
            grade, source = consensus_grade(grades), ReferenceLabel.Source.MAJORITY
        labels.append(
            ReferenceLabel(
                case=case,
                level=level,
                grade=grade,
                source=source,
                n_readers=len(grades),
                box=_mean_box([b for *_, b in reads if b]),
                frozen=case.in_reference_set,
            )
        )
    with transaction.atomic():
        AdjudicationItem.objects.bulk_create(new_items, ignore_conflicts=True)
        for disputed in new_items:
            if disputed.reason == READERS:
                ReferenceLabel.objects.filter(case=disputed.case, level=disputed.level).delete()
        case_adjudicators_deal(cases=[item.case for item in new_items if item.reason == READERS])
        ReferenceLabel.objects.bulk_create(
            labels,
            update_conflicts=True,
            unique_fields=["case", "level"],
            update_fields=["grade", "box", "source", "n_readers", "frozen", "updated_at"],
        )
    return {"labels": len(labels), "new_adjudications": len(new_items)}


def _champion_grades(*, project: Project, cases) -> dict[tuple[int, str], dict]:
    champion = project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
    if champion is None:
        return {}
    predictions = LevelPrediction.objects.filter(
        model_version=champion, study_id__in=[c.pair.ct_study_id for c in cases]
    ).values_list("study_id", "level", "grade")
    return {(s, lv): {"grade": g, "label": champion.label} for s, lv, g in predictions}


@transaction.atomic
def adjudication_resolve(*, item: AdjudicationItem, user, grade: int, note: str = "") -> AdjudicationItem:
    """A senior reader decides a disputed level's grade; the reference label follows (the readers'
    item's decision, where the level has one)."""
    profile = getattr(user, "reader_profile", None)
    if profile is None or profile.experience != Experience.SENIOR:
        raise ApplicationError("Only senior readers adjudicate.", code="not_senior", status=403)
    if not item.case.project.memberships.filter(user=user).exists():
        raise ApplicationError("You are not a reader of this project.", code="not_member", status=403)
    if not isinstance(grade, int) or isinstance(grade, bool) or not 0 <= grade <= 3:
        raise ApplicationError("grade must be an integer from 0 to 3.", code="invalid_grade")
    item = AdjudicationItem.objects.select_for_update().get(pk=item.pk)
    if item.status == AdjudicationItem.Status.RESOLVED:
        raise ApplicationError("This level is adjudicated already.", code="resolved", status=409)
    item.status, item.resolved_grade, item.resolved_by = AdjudicationItem.Status.RESOLVED, grade, user
    item.note, item.resolved_at = note, timezone.now()
    item.save()
    if (
        item.reason == MODEL
        and AdjudicationItem.objects.filter(case_id=item.case_id, level=item.level, reason=READERS).exists()
    ):
        return item  # the readers' own item decides the label
    case = Case.objects.select_related("pair__ct_study", "project").get(pk=item.case_id)
    n_readers = LevelAnnotation.objects.filter(
        assignment__case=case, assignment__status="submitted", level=item.level
    ).count()
    ReferenceLabel.objects.update_or_create(
        case=case,
        level=item.level,
        defaults={
            "grade": grade,
            "source": ReferenceLabel.Source.ADJUDICATED,
            "n_readers": n_readers,
            "frozen": case.in_reference_set,
        },
    )
    reference_labels_updated.send(sender=Project, project=case.project)
    return item
