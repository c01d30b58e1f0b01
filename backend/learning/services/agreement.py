"""Agreement over time: kappa snapshots of model vs readers and readers vs readers."""

from collections import defaultdict
from itertools import combinations

from django.db.models import Max
from django.utils import timezone

from backend.accounts.models import Experience
from backend.learning import ml_bridge
from backend.learning.models import KappaSnapshot, LevelPrediction, ModelVersion
from backend.projects.models import Project
from backend.reading.models import Assignment, LevelAnnotation

TASKS = {"4grade": ([0, 1, 2, 3], lambda g: g), "binary": ([0, 1], lambda g: int(g >= 2))}
WEIGHTINGS = {"none": None, "quadratic": "quadratic"}
N_BOOT = 300
MODEL = "model"  # the champion of the moment; each point names its version


def _pairs_rows(
    *,
    project: Project,
    taken_at,
    trigger: str,
    version: ModelVersion | None,
    kind: str,
    rater_a: str,
    rater_b: str,
    pairs: list[tuple[int, bool, int, int]],
) -> list[KappaSnapshot]:
    """Snapshots of one rater pair: pairs are (case, display, grade a, grade b), where display is what the
    reader had on screen (both readers, for two readers; None when theirs differed)."""
    rows = []
    for subset in KappaSnapshot.SUBSETS:
        chosen = [p for p in pairs if subset == "all" or p[1] == subset]
        if not chosen:
            continue
        groups = [p[0] for p in chosen]
        for task, (labels, to_task) in TASKS.items():
            a, b = [to_task(p[2]) for p in chosen], [to_task(p[3]) for p in chosen]
            for weighting, weights in WEIGHTINGS.items():
                value, low, high = ml_bridge.agreement(
                    a=a, b=b, labels=labels, weights=weights, groups=groups, n_boot=N_BOOT
                )
                rows.append(
                    KappaSnapshot(
                        project=project,
                        taken_at=taken_at,
                        trigger=trigger,
                        model_version=version,
                        kind=kind,
                        rater_a=rater_a,
                        rater_b=rater_b,
                        task=task,
                        weighting=weighting,
                        subset=subset,
                        kappa=_finite(value),
                        ci_low=_finite(low),
                        ci_high=_finite(high),
                        n=len(chosen),
                    )
                )
    return rows


def _finite(value: float) -> float | None:
    return None if value != value else round(value, 4)  # NaN -> null


def kappa_snapshot_take(*, project: Project, trigger: str, model_version: ModelVersion | None = None) -> int:
    """Store every agreement figure of the project as it stands now; returns the rows written."""
    version = model_version or project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
    reads = LevelAnnotation.objects.filter(
        assignment__case__project=project, assignment__status=Assignment.Status.SUBMITTED, grade__isnull=False
    ).values_list(
        "assignment__case_id",
        "assignment__case__pair__ct_study_id",
        "level",
        "assignment__reader__username",
        "assignment__reader__reader_profile__experience",
        "grade",
        "display",
    )
    by_level: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    display: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    study_of: dict[int, int] = {}
    experience: dict[str, str] = {}
    for case_id, study_id, level, reader, exp, grade, shown in reads:
        by_level[(case_id, level)][reader] = grade
        display[(case_id, level)][reader] = shown
        study_of[case_id] = study_id
        experience[reader] = exp or Experience.JUNIOR
    model: dict[tuple[int, str], int] = {}
    if version is not None:
        model = {
            (s, lv): g
            for s, lv, g in LevelPrediction.objects.filter(
                model_version=version, study_id__in=set(study_of.values())
            ).values_list("study_id", "level", "grade")
        }
    now, rows = timezone.now(), []
    common = dict(project=project, taken_at=now, trigger=trigger, version=version)

    def emit(kind: str, a: str, b: str, pairs: list) -> None:
        rows.extend(_pairs_rows(kind=kind, rater_a=a, rater_b=b, pairs=pairs, **common))

    if model:
        per_reader, per_group = defaultdict(list), defaultdict(list)
        for key, grades in by_level.items():
            study_id = study_of[key[0]]
            if (study_id, key[1]) not in model:
                continue
            for reader, grade in grades.items():
                pair = (key[0], display[key][reader], model[(study_id, key[1])], grade)
                per_reader[reader].append(pair)
                per_group[experience[reader]].append(pair)
        for reader, pairs in sorted(per_reader.items()):
            emit(KappaSnapshot.Kind.MODEL_READER, MODEL, reader, pairs)
        for group, pairs in sorted(per_group.items()):
            emit(KappaSnapshot.Kind.MODEL_GROUP, MODEL, group, pairs)
    per_couple, per_groups = defaultdict(list), defaultdict(list)
    for key, grades in by_level.items():
        for a, b in combinations(sorted(grades), 2):
            shown = display[key][a] if display[key][a] == display[key][b] else None
            per_couple[(a, b)].append((key[0], shown, grades[a], grades[b]))
            ga, gb = sorted((experience[a], experience[b]))
            first, second = (a, b) if experience[a] == ga else (b, a)
            per_groups[(ga, gb)].append((key[0], shown, grades[first], grades[second]))
    for (a, b), pairs in sorted(per_couple.items()):
        emit(KappaSnapshot.Kind.READER_READER, a, b, pairs)
    for (ga, gb), pairs in sorted(per_groups.items()):
        emit(KappaSnapshot.Kind.GROUP_GROUP, ga, gb, pairs)
    KappaSnapshot.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def kappa_snapshot_maybe(*, project: Project) -> int:
    """A batch snapshot once `kappa_every` readings were submitted since the last one."""
    last = project.kappa_snapshots.filter(trigger=KappaSnapshot.Trigger.BATCH).aggregate(t=Max("taken_at"))[
        "t"
    ]
    submitted = Assignment.objects.filter(case__project=project, status=Assignment.Status.SUBMITTED)
    if last is not None:
        submitted = submitted.filter(submitted_at__gt=last)
    if submitted.count() < project.kappa_every:
        return 0
    return kappa_snapshot_take(project=project, trigger=KappaSnapshot.Trigger.BATCH)
