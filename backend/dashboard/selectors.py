"""Reads behind the admin dashboards: every one aggregates in the database, in a fixed number of queries.

Labeling progress, grade distribution, adjudication queue and a first-screen summary live here; the
model side (kappa, registry, confusion matrix, label efficiency) in `model_selectors`, the workers
in `worker_selectors`.
"""

from datetime import date

from django.db import connection
from django.db.models import Aggregate, Avg, Count, Exists, F, FloatField, Min, OuterRef, Q, Value
from django.db.models.functions import Coalesce, TruncDate

from backend.accounts.models import Experience, Role
from backend.dashboard.model_selectors import json_path
from backend.learning.models import AdjudicationItem, KappaSnapshot, ModelVersion, ReferenceLabel, TrainingRun
from backend.projects.models import Membership, Project
from backend.projects.selectors import project_list_for_user
from backend.reading.models import Assignment, Case, LevelAnnotation

GRADES = (0, 1, 2, 3)
SUBMITTED = Assignment.Status.SUBMITTED


class Median(Aggregate):
    """PostgreSQL's exact median; other databases get it computed from the values (see below)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def project_list_for_dashboard(*, user):
    """The projects whose dashboards the user may see: those they are an admin of."""
    return project_list_for_user(user=user, role=Role.ADMIN).order_by("name").values("slug", "name")


def _submitted_readings(project: Project):
    return Assignment.objects.filter(case__project=project, status=SUBMITTED)


def _submitted_levels(project: Project):
    return LevelAnnotation.objects.filter(
        assignment__case__project=project, assignment__status=SUBMITTED, grade__isnull=False
    )


def _per_day(rows, key: str) -> dict[date, int]:
    return {row["day"]: row[key] for row in rows if row["day"] is not None}


def labeling_progress_by_day(*, project: Project) -> list[dict]:
    """Per day: submitted levels, submitted readings and cases read for the first time; with running totals."""
    readings = _submitted_readings(project).annotate(day=TruncDate("submitted_at"))
    earlier = Assignment.objects.filter(
        case=OuterRef("case"), status=SUBMITTED, submitted_at__lt=OuterRef("submitted_at")
    )
    levels = _per_day(
        _submitted_levels(project)
        .annotate(day=TruncDate("assignment__submitted_at"))
        .values("day")
        .annotate(n=Count("id")),
        "n",
    )
    reads = _per_day(readings.values("day").annotate(n=Count("id")), "n")
    first_reads = _per_day(
        readings.exclude(Exists(earlier)).values("day").annotate(n=Count("case", distinct=True)), "n"
    )
    days, totals, out = sorted(set(levels) | set(reads)), {"levels": 0, "readings": 0, "cases": 0}, []
    for day in days:
        today = {
            "levels": levels.get(day, 0),
            "readings": reads.get(day, 0),
            "cases": first_reads.get(day, 0),
        }
        for key, value in today.items():
            totals[key] += value
        out.append({"day": day, **today, **{f"cumulative_{k}": v for k, v in totals.items()}})
    return out


def _median_seconds_by_reader(project: Project) -> dict[int, float]:
    readings = _submitted_readings(project)
    if connection.vendor == "postgresql":
        rows = readings.values("reader_id").annotate(median=Median("time_spent_s"))
        return {row["reader_id"]: row["median"] for row in rows}
    spent: dict[int, list[float]] = {}  # SQLite has no median aggregate: one query, the middle in Python
    for reader_id, seconds in readings.order_by("reader_id", "time_spent_s").values_list(
        "reader_id", "time_spent_s"
    ):
        spent.setdefault(reader_id, []).append(seconds)
    return {
        reader: (values[len(values) // 2] + values[(len(values) - 1) // 2]) / 2
        for reader, values in spent.items()
    }


def labeling_progress_by_reader(*, project: Project, total_cases: int | None = None) -> list[dict]:
    """Each member (and anyone else who submitted): cases done and remaining, levels, median and mean time per case."""
    if total_cases is None:
        total_cases = Case.objects.filter(project=project).count()
    readers: dict[int, dict] = {}
    members = Membership.objects.filter(project=project).values(
        "user_id", "user__username", "user__reader_profile__experience"
    )
    for row in members:
        readers[row["user_id"]] = {
            "reader": row["user__username"],
            "experience": row["user__reader_profile__experience"] or "",
            "done": 0,
            "drafts": 0,
            "levels": 0,
            "mean_seconds": None,
        }
    work = (
        Assignment.objects.filter(case__project=project)
        .values("reader_id", "reader__username", "reader__reader_profile__experience")
        .annotate(
            done=Count("id", filter=Q(status=SUBMITTED)),
            drafts=Count("id", filter=~Q(status=SUBMITTED)),
            mean=Avg("time_spent_s", filter=Q(status=SUBMITTED)),
        )
    )
    for row in work:
        entry = readers.setdefault(
            row["reader_id"],
            {
                "reader": row["reader__username"],
                "experience": row["reader__reader_profile__experience"] or "",
                "levels": 0,
            },
        )
        entry.update(done=row["done"], drafts=row["drafts"], mean_seconds=row["mean"])
    levels = _submitted_levels(project).values("assignment__reader_id").annotate(n=Count("id"))
    for row in levels:
        if row["assignment__reader_id"] in readers:
            readers[row["assignment__reader_id"]]["levels"] = row["n"]
    medians = _median_seconds_by_reader(project)
    out = []
    for reader_id, entry in readers.items():
        mean = entry.get("mean_seconds")
        out.append(
            {
                **entry,
                "remaining": max(total_cases - entry.get("done", 0), 0),
                "median_seconds": _rounded(medians.get(reader_id)),
                "mean_seconds": _rounded(mean),
            }
        )
    return sorted(out, key=lambda r: (-r["done"], r["reader"]))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def labeling_progress(*, project: Project) -> dict:
    total_cases = Case.objects.filter(project=project).count()
    return {
        "total_cases": total_cases,
        "by_day": labeling_progress_by_day(project=project),
        "by_reader": labeling_progress_by_reader(project=project, total_cases=total_cases),
    }


def _counts(rows, key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in rows:
        if row["grade"] in GRADES:
            out.setdefault(str(row[key]), [0] * len(GRADES))[row["grade"]] = row["n"]
    return out


def grade_distribution(*, project: Project) -> dict:
    """Grades 0-3: the reference labels (frozen set and the rest) and the submitted grades of each reader group."""
    reference = _counts(
        ReferenceLabel.objects.filter(case__project=project)
        .values("frozen", "grade")
        .annotate(n=Count("id")),
        "frozen",
    )
    groups = _counts(
        _submitted_levels(project).values("grade", group=_experience()).annotate(n=Count("id")), "group"
    )
    empty = [0] * len(GRADES)
    return {
        "grades": list(GRADES),
        "reference": {"frozen": reference.get("True", empty), "training": reference.get("False", empty)},
        "reader_groups": [
            {"experience": group, "counts": counts, "total": sum(counts)}
            for group, counts in sorted(groups.items())
        ],
    }


def _experience():
    return Coalesce(F("assignment__reader__reader_profile__experience"), Value(Experience.JUNIOR))


def adjudication_summary(*, project: Project) -> dict:
    """Open and resolved counts, open items by reason and by level, and how old the oldest open one is."""
    rows = (
        AdjudicationItem.objects.filter(case__project=project)
        .values("status", "reason", "level")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    summary = {"open": 0, "resolved": 0, "open_by_reason": {}, "open_by_level": {}, "oldest_open_at": None}
    for row in rows:
        summary[row["status"]] = summary.get(row["status"], 0) + row["n"]
        if row["status"] != AdjudicationItem.Status.OPEN:
            continue
        for key, field in (("open_by_reason", "reason"), ("open_by_level", "level")):
            summary[key][row[field]] = summary[key].get(row[field], 0) + row["n"]
        if summary["oldest_open_at"] is None or row["oldest"] < summary["oldest_open_at"]:
            summary["oldest_open_at"] = row["oldest"]
    return summary


def dashboard_summary(*, project: Project) -> dict:
    """The first screen: how much is read, the champion, a training under way, open adjudications, agreement."""
    cases = Case.objects.filter(project=project).aggregate(
        total=Count("id"), reference=Count("id", filter=Q(in_reference_set=True))
    )
    readings = _submitted_readings(project).aggregate(
        readings=Count("id"), cases=Count("case", distinct=True)
    )
    champion = (
        ModelVersion.objects.filter(project=project, status=ModelVersion.Status.CHAMPION)
        .values("number", "promoted_at", kappa=json_path("metrics", "reference", "kappa_quadratic"))
        .first()
    )
    run = (
        TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE)
        .values("id", "status", "progress", "labels_used", "created_at")
        .first()
    )
    latest = (
        KappaSnapshot.objects.filter(
            project=project,
            kind=KappaSnapshot.Kind.MODEL_GROUP,
            task="4grade",
            weighting="quadratic",
            subset="all",
        )
        .order_by("-taken_at", "-pk")
        .values("rater_b", "kappa", "ci_low", "ci_high", "n", "taken_at")[:4]
    )
    latest_by_group: dict[str, dict] = {}
    for row in latest:
        latest_by_group.setdefault(row["rater_b"], row)
    return {
        "project": {"slug": project.slug, "name": project.name},
        "cases": cases["total"],
        "reference_cases": cases["reference"],
        "cases_read": readings["cases"],
        "readings": readings["readings"],
        "levels_submitted": _submitted_levels(project).count(),
        "readers": Membership.objects.filter(project=project).count(),
        "champion": None
        if champion is None
        else {
            "model_version": f"{project.slug}-v{champion['number']}",
            "promoted_at": champion["promoted_at"],
            "reference_kappa": champion["kappa"],
        },
        "active_training": run,
        "open_adjudications": AdjudicationItem.objects.filter(
            case__project=project, status=AdjudicationItem.Status.OPEN
        ).count(),
        "model_vs_groups": [
            {
                "group": g,
                "kappa": r["kappa"],
                "ci95": [r["ci_low"], r["ci_high"]],
                "n": r["n"],
                "taken_at": r["taken_at"],
            }
            for g, r in sorted(latest_by_group.items())
        ],
    }
