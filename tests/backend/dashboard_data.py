"""A labeling project filled with bulk_create for the dashboard tests and benchmark: cases read by several
readers over several days, reference labels, model versions with reference metrics and heavy training
snapshots, training runs, kappa snapshots and adjudications. Nothing is computed: only stored."""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from backend.accounts.models import ReaderProfile
from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.learning.models import AdjudicationItem, KappaSnapshot, ModelVersion, ReferenceLabel, TrainingRun
from backend.projects.models import Membership, Project
from backend.reading.models import Assignment, Case, LevelAnnotation

EXPERIENCES = ("senior", "senior", "junior", "junior", "junior", "junior")


@dataclass(frozen=True)
class DashboardData:
    project: Project
    cases: int
    readings: int
    levels: int
    versions: int
    snapshots: int


def _confusion(rng: random.Random, n: int) -> list[list[int]]:
    matrix = [[0] * 4 for _ in range(4)]
    for _ in range(n):
        truth = rng.randrange(4)
        matrix[truth][min(3, max(0, truth + rng.choice((-1, 0, 0, 0, 1))))] += 1
    return matrix


def _readers(slug: str, count: int) -> list:
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"{slug}-reader-{k + 1}", password="!") for k in range(count)]
    )
    ReaderProfile.objects.bulk_create(
        [ReaderProfile(user=u, experience=EXPERIENCES[k % len(EXPERIENCES)]) for k, u in enumerate(users)]
    )
    return users


def _cases(project: Project, *, cases: int, reference_share: float, blinded_share: float) -> list[Case]:
    slug = project.slug
    patients = Patient.objects.bulk_create([Patient(patient_id=f"{slug}-p{k}") for k in range(cases)])
    studies = Study.objects.bulk_create(
        [
            Study(study_uid=f"1.2.{project.pk}.{k}.{m}", patient=p, modality=modality)
            for k, p in enumerate(patients)
            for m, modality in enumerate(("CT", "MR"))
        ]
    )
    pairs = StudyPair.objects.bulk_create(
        [
            StudyPair(patient=p, ct_study=studies[2 * k], mr_study=studies[2 * k + 1])
            for k, p in enumerate(patients)
        ]
    )
    n_reference = round(cases * reference_share)
    return Case.objects.bulk_create(
        [
            Case(
                project=project,
                pair=pair,
                in_reference_set=k < n_reference,
                blinded=(k % round(1 / blinded_share)) == 1,
                priority=100 if k < n_reference else 1 - k / cases,
            )
            for k, pair in enumerate(pairs)
        ]
    )


def _readings(cases: list[Case], users: list, *, reads_per_case: int, days: int, rng: random.Random):
    start = timezone.now() - timedelta(days=days)
    assignments, grades = [], []
    for k, case in enumerate(cases):
        readers = (
            users if case.in_reference_set else [users[(k + j) % len(users)] for j in range(reads_per_case)]
        )
        for reader in readers:
            at = start + timedelta(days=days * k / len(cases), minutes=rng.randrange(600))
            assignments.append(
                Assignment(
                    case=case,
                    reader=reader,
                    status=Assignment.Status.SUBMITTED,
                    submitted_at=at,
                    time_spent_s=rng.uniform(40, 300),
                )
            )
    assignments = Assignment.objects.bulk_create(assignments, batch_size=2000)
    levels = []
    for assignment in assignments:
        for level in LEVELS:
            grade = rng.choices((0, 1, 2, 3), weights=(5, 3, 2, 1))[0]
            grades.append(grade)
            levels.append(
                LevelAnnotation(
                    assignment=assignment,
                    level=level,
                    grade=grade,
                    box=[10, 20, 40, 50],
                    suggestion_shown=not assignment.case.blinded,
                    model_version_shown="v1",
                )
            )
    LevelAnnotation.objects.bulk_create(levels, batch_size=5000)
    return assignments, levels


def _versions(project: Project, *, versions: int, levels: int, rng: random.Random) -> list[ModelVersion]:
    now = timezone.now()
    rows = []
    for n in range(1, versions + 1):
        labels = round(levels * n / versions)
        kappa = round(min(0.95, 0.3 + 0.6 * n / versions + rng.uniform(-0.05, 0.05)), 4)
        promoted = n == 1 or rng.random() < 0.4
        rows.append(
            ModelVersion(
                project=project,
                number=n,
                status="retired" if promoted else "challenger",
                promoted_at=now - timedelta(days=versions - n) if promoted else None,
                metrics={
                    "reference": {
                        "n": 120,
                        "kappa_quadratic": kappa,
                        "kappa_quadratic_ci95": [kappa - 0.1, kappa + 0.05],
                        "accuracy": 0.8,
                        "binary_kappa": 0.7,
                        "confusion_matrix": _confusion(rng, 120),
                    },
                    "gate": {
                        "promoted": promoted,
                        "reason": "not worse than the champion" if promoted else "worse",
                    },
                    "history": [{"epoch": e, "loss": 1 / (e + 1)} for e in range(30)],
                },
                training_snapshot={
                    "labels": labels,
                    "grades": {f"study-{k}": {lv: 1 for lv in LEVELS} for k in range(labels // 6)},
                },
            )
        )
    rows[-1].status, rows[-1].promoted_at = ModelVersion.Status.CHAMPION, now
    created = ModelVersion.objects.bulk_create(rows)
    TrainingRun.objects.bulk_create(
        [
            TrainingRun(
                project=project,
                model_version=v,
                status="succeeded",
                trigger="threshold",
                labels_used=v.training_snapshot["labels"],
                progress={"stage": "done", "epoch": 3, "epochs": 3},
            )
            for v in created
        ]
    )
    return created


def _snapshots(project: Project, versions: list, users: list, *, batches: int, days: int) -> int:
    start, rows = timezone.now() - timedelta(days=days), []
    pairs = [
        ("model_group", "model", "junior"),
        ("model_group", "model", "senior"),
        ("group_group", "junior", "senior"),
        ("group_group", "senior", "senior"),
    ]
    pairs += [("model_reader", "model", u.username) for u in users[:3]]
    pairs += [("reader_reader", users[0].username, u.username) for u in users[1:3]]
    for b in range(batches):
        version = versions[min(len(versions) - 1, b * len(versions) // batches)]
        at = start + timedelta(days=days * b / batches)
        for kind, a, rater_b in pairs:
            for subset in ("all", "shown", "blinded"):
                for task in ("4grade", "binary"):
                    for weighting in ("none", "quadratic"):
                        kappa = 0.4 + 0.4 * b / batches
                        rows.append(
                            KappaSnapshot(
                                project=project,
                                taken_at=at,
                                trigger="batch",
                                model_version=version,
                                kind=kind,
                                rater_a=a,
                                rater_b=rater_b,
                                task=task,
                                weighting=weighting,
                                subset=subset,
                                kappa=kappa,
                                ci_low=kappa - 0.1,
                                ci_high=kappa + 0.08,
                                n=60 + b,
                            )
                        )
    KappaSnapshot.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def seed_dashboard_project(
    *,
    slug: str = "dash",
    cases: int = 30,
    reads_per_case: int = 2,
    readers: int = 6,
    versions: int = 5,
    kappa_batches: int = 10,
    days: int = 10,
    seed: int = 0,
) -> DashboardData:
    rng = random.Random(seed)
    project = Project.objects.create(name=f"Dashboard {slug}", slug=slug, blinded_share=0.1)
    users = _readers(slug, readers)
    Membership.objects.bulk_create([Membership(project=project, user=u) for u in users])
    case_rows = _cases(project, cases=cases, reference_share=0.2, blinded_share=0.1)
    assignments, levels = _readings(case_rows, users, reads_per_case=reads_per_case, days=days, rng=rng)
    ReferenceLabel.objects.bulk_create(
        [
            ReferenceLabel(
                case=c,
                level=lv,
                grade=rng.choices((0, 1, 2, 3), weights=(5, 3, 2, 1))[0],
                source="majority",
                n_readers=2,
                frozen=c.in_reference_set,
            )
            for c in case_rows
            for lv in LEVELS
        ],
        batch_size=5000,
    )
    AdjudicationItem.objects.bulk_create(
        [
            AdjudicationItem(
                case=c,
                level=LEVELS[k % 6],
                reason="readers_disagree",
                grades={"a": 0, "b": 3},
                status="open" if k % 3 else "resolved",
            )
            for k, c in enumerate(case_rows[:: max(1, cases // 20)])
        ]
    )
    version_rows = _versions(project, versions=versions, levels=len(levels), rng=rng)
    snapshots = _snapshots(project, version_rows, users, batches=kappa_batches, days=days)
    return DashboardData(
        project=project,
        cases=cases,
        readings=len(assignments),
        levels=len(levels),
        versions=versions,
        snapshots=snapshots,
    )
