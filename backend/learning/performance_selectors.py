"""Reader performance: each reader's and each experience group's grades scored against the reference labels.

A reader is never scored against their own grade. Where a level's reference label was set by an adjudicator
other than the reader, it is the reference; otherwise the reference is the consensus of the level's other
readers, by the rule the reference labels follow (seniors outvote juniors, a tie goes to the higher grade).
A level nobody else read (a single reading, or the reader's own adjudication with no other reading) is left
out and counted as `own_reference_levels`. Levels without a reference label (an open readers' adjudication)
are not scored. One bootstrap draw of the cases serves every reader and group of a scope (a paired
bootstrap), which gives the seniors-minus-juniors difference its own interval.
"""

from collections import defaultdict
from dataclasses import dataclass

from backend.accounts.models import Experience
from backend.learning import ml_bridge
from backend.learning.models import AdjudicationItem, ReferenceLabel
from backend.learning.services.consensus import consensus_grade
from backend.projects.models import Project
from backend.reading.models import Assignment, LevelAnnotation

METRICS, TASKS = ml_bridge.GRADING_SCORES, ml_bridge.GRADING_TASKS
N_BOOT = 1000


@dataclass(frozen=True)
class _Read:
    reader: str
    experience: str
    grade: int


@dataclass(frozen=True)
class _Scored:
    case_id: int
    reader: str
    experience: str
    grade: int
    reference: int | None  # None: nobody but the reader could have made it
    frozen: bool


def _reference_without(reader: str, reads: list[_Read]) -> int | None:
    others = [r for r in reads if r.reader != reader]
    seniors = [r.grade for r in others if r.experience == Experience.SENIOR]
    if seniors:
        return consensus_grade(seniors)
    return consensus_grade([r.grade for r in others]) if others else None


def _deciders(project: Project) -> dict[tuple[int, str], str | None]:
    """(case, level) -> who decided its adjudicated label: the readers' item's adjudicator, else the model's."""
    rows = AdjudicationItem.objects.filter(
        case__project=project, status=AdjudicationItem.Status.RESOLVED
    ).values_list("case_id", "level", "reason", "resolved_by__username")
    deciders: dict[tuple[int, str], str | None] = {}
    for case_id, level, reason, username in rows:
        if reason == AdjudicationItem.Reason.READERS_DISAGREE or (case_id, level) not in deciders:
            deciders[(case_id, level)] = username
    return deciders


def _rounded(value: float) -> float | None:
    return None if value != value else round(value, 4)  # NaN -> null


def _tasks(scores: dict[str, dict[str, tuple[float, float, float]]]) -> list[dict]:
    return [
        {
            "task": task,
            **{
                name: {"value": _rounded(v), "ci95": [_rounded(low), _rounded(high)]}
                for name, (v, low, high) in by_name.items()
            },
        }
        for task, by_name in scores.items()
    ]


def _columns(scored: list[_Scored]) -> tuple[list[int], list[int], list[int]]:
    return [s.case_id for s in scored], [s.reference for s in scored], [s.grade for s in scored]


def _counts(rows: list[_Scored], own: int) -> dict:
    return {"levels": len(rows), "cases": len({s.case_id for s in rows}), "own_reference_levels": own}


def _performance(judged: list[_Scored], reference_levels: int, n_boot: int) -> dict:
    scored: dict[str, list[_Scored]] = defaultdict(list)
    own: dict[str, int] = defaultdict(int)
    experience_of = {s.reader: s.experience for s in judged}
    for s in judged:
        if s.reference is None:
            own[s.reader] += 1
        else:
            scored[s.reader].append(s)
    readers = sorted(experience_of, key=lambda r: (experience_of[r], r))
    members = {g: [r for r in readers if experience_of[r] == g] for g in sorted(set(experience_of.values()))}
    pooled = {g: [s for r in names for s in scored[r]] for g, names in members.items()}
    contrasts = [(("group", Experience.SENIOR), ("group", Experience.JUNIOR))]
    contrasts = contrasts if all(key[1] in members for key in contrasts[0]) else []
    result = ml_bridge.rater_scores(
        raters={
            **{("reader", r): _columns(scored[r]) for r in readers},
            **{("group", g): _columns(rows) for g, rows in pooled.items()},
        },
        contrasts=contrasts,
        n_boot=n_boot,
    )
    return {
        "reference_levels": reference_levels,
        "readers": [
            {
                "reader": r,
                "experience": experience_of[r],
                **_counts(scored[r], own[r]),
                "tasks": _tasks(result["raters"][("reader", r)]),
            }
            for r in readers
        ],
        "groups": [
            {
                "group": g,
                "readers": len(names),
                **_counts(pooled[g], sum(own[r] for r in names)),
                "tasks": _tasks(result["raters"][("group", g)]),
            }
            for g, names in members.items()
        ],
        "contrasts": [
            {"a": a[1], "b": b[1], "tasks": _tasks(result["contrasts"][(a, b)])} for a, b in contrasts
        ],
    }


def _judged(project: Project) -> tuple[list[_Scored], int, int]:
    """Every submitted grade of a level with a reference label, with the reference it is scored against;
    and how many reference labels there are, in all and in the frozen reference set."""
    labels = ReferenceLabel.objects.filter(case__project=project).values_list(
        "case_id", "level", "grade", "source", "frozen"
    )
    references = {(c, lv): (g, s, f) for c, lv, g, s, f in labels}
    reads: dict[tuple[int, str], list[_Read]] = defaultdict(list)
    rows = LevelAnnotation.objects.filter(
        assignment__case__project=project, assignment__status=Assignment.Status.SUBMITTED, grade__isnull=False
    ).values_list(
        "assignment__case_id",
        "level",
        "assignment__reader__username",
        "assignment__reader__reader_profile__experience",
        "grade",
    )
    for case_id, level, reader, experience, grade in rows.order_by("assignment__case_id", "level", "pk"):
        if (case_id, level) in references:
            reads[(case_id, level)].append(_Read(reader, experience or Experience.JUNIOR, grade))
    deciders = _deciders(project)
    judged = []
    for key, level_reads in reads.items():
        grade, source, frozen = references[key]
        for read in level_reads:
            decided_by_another = (
                source == ReferenceLabel.Source.ADJUDICATED and deciders.get(key) != read.reader
            )
            reference = grade if decided_by_another else _reference_without(read.reader, level_reads)
            judged.append(_Scored(key[0], read.reader, read.experience, read.grade, reference, frozen))
    return judged, len(references), sum(1 for *_, f in references.values() if f)


def reader_performance(*, project: Project, n_boot: int = N_BOOT) -> dict:
    """Accuracy, macro F1 and kappa (unweighted, quadratic), 4 grades and binary (grade >= 2), of every reader,
    of juniors and seniors pooled and of seniors minus juniors, with bootstrap 95% intervals over cases: on
    every case with reference labels (`all`) and on the frozen reference set's cases alone (`reference_set`,
    read by everyone, so the readers are compared on the same cases). Three queries."""
    judged, in_all, in_reference_set = _judged(project)
    return {
        "n_boot": n_boot,
        "metrics": list(METRICS),
        "tasks": list(TASKS),
        "scopes": [
            {"scope": "all", **_performance(judged, in_all, n_boot)},
            {
                "scope": "reference_set",
                **_performance([s for s in judged if s.frozen], in_reference_set, n_boot),
            },
        ],
    }
