"""One small platform with a person in every role, for the permission matrix and the schemathesis run.

Project `spine` (two synthetic patients, CT + MR each, so two cases; a champion v1 and a challenger
v2; a promotion history; a failed training; a submitted reading; an open adjudication) and project
`other` (one case of its own). People: a junior and a senior reader of spine, a spare member of
spine (what member changes act on), a reader and an admin of other, the admin of spine and a
platform admin (a superuser, member of nothing). Everyone has a password and an API token.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from backend.accounts.services import reader_create, user_token_get_or_create
from backend.common.levels import LEVELS
from backend.imaging.models import IngestJob, Instance, Series, Study
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import AdjudicationItem, ModelVersion, TrainingRun
from backend.learning.services import model_version_promote
from backend.projects.services import project_create, project_member_add
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend import dicom_files as F
from tests.backend.reading_data import synthetic_reading_project

PASSWORD = "a-long-test-password-1"
ROLES = ("anonymous", "reader", "senior", "other_reader", "other_admin", "admin", "superuser")


@dataclass
class World:
    users: dict = field(default_factory=dict)  # role -> User (not anonymous)
    tokens: dict = field(default_factory=dict)  # role -> API token key
    ids: dict = field(default_factory=dict)  # what the routes' path parameters take
    secrets: list = field(default_factory=list)  # strings of spine that no outsider may ever see


def _user(username: str, *, experience: str = "junior", superuser: bool = False):
    role = "admin" if superuser else "reader"
    return reader_create(username=username, password=PASSWORD, experience=experience, role=role).user


def _other_project(root: Path):
    other = project_create(name="Other", slug="other", blinded_share=0.0, reference_share=0.0)
    F.write_series(root / "other" / "ct", 2, patient_id="OTHER-1", study_date=date(2025, 1, 1))
    F.write_series(root / "other" / "mr", 2, patient_id="OTHER-1", modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=other),
        paths=sorted((root / "other").rglob("*.dcm")),
    )
    return other


def build_world(root: Path) -> World:
    spine, manifest = synthetic_reading_project(root / "spine", patients=2, slug="spine", champion=True)
    other = _other_project(root)
    world = World()
    people = {
        "reader": _user("reader"),
        "senior": _user("senior", experience="senior"),
        "member": _user("member"),
        "other_reader": _user("other-reader"),
        "other_admin": _user("other-admin"),
        "admin": _user("admin", experience="senior"),
        "superuser": _user("root", superuser=True),
        "outsider": _user("outsider"),
    }
    for role in ("reader", "senior", "member"):
        project_member_add(project=spine, user=people[role])
    project_member_add(project=spine, user=people["admin"], role="admin")
    project_member_add(project=other, user=people["other_reader"])
    project_member_add(project=other, user=people["other_admin"], role="admin")

    # The registry: v1 champion (synthetic_reading_project), v2 promoted over it, v3 a challenger.
    champion = spine.model_versions.get(number=1)
    v2 = ModelVersion.objects.create(project=spine, number=2, status=ModelVersion.Status.CHALLENGER)
    champion.status = ModelVersion.Status.CHALLENGER
    champion.save(update_fields=["status"])
    model_version_promote(version=champion)
    model_version_promote(version=v2)
    ModelVersion.objects.create(project=spine, number=3, status=ModelVersion.Status.CHALLENGER)
    failed = TrainingRun.objects.create(project=spine, status=TrainingRun.Status.FAILED, error="no worker")

    # Case 1 is read (submitted) by the senior and the admin, apart by 3 grades: an open adjudication.
    read, unread = spine.cases.order_by("pk")
    for role, grade in (("senior", 0), ("admin", 3)):
        assignment = assignment_open(case=read, reader=people[role])
        for level in LEVELS:
            level_annotation_save(
                assignment=assignment, level=level, user=people[role], version=None, grade=grade
            )
        assignment_submit(assignment=assignment, user=people[role], notify_learning=False)
    item = AdjudicationItem.objects.create(
        case=read,
        level=LEVELS[3],
        reason=AdjudicationItem.Reason.READERS_DISAGREE,
        grades={"senior": 0, "admin": 3},
    )
    job = ingest_job_create(source=IngestJob.Source.UPLOAD, project=spine, user=people["admin"])

    ct = Study.objects.get(study_uid=unread.pair.ct_study.study_uid)
    series = Series.objects.filter(study=ct).order_by("series_number").first()
    instance = Instance.objects.filter(series=series).order_by("instance_number").first()
    world.users = {role: people[role] for role in ROLES if role != "anonymous"}
    world.users.update(member=people["member"], outsider=people["outsider"])
    world.tokens = {role: user_token_get_or_create(user=user) for role, user in world.users.items()}
    world.ids = {
        "slug": spine.slug,
        "case_id": unread.pk,
        "read_case_id": read.pk,
        "pair_id": unread.pair_id,
        "level": "C5-6",
        "user_id": people["member"].pk,
        "job_id": job.pk,
        "number": 3,
        "run_id": failed.pk,
        "item_id": item.pk,
        "study": ct.study_uid,
        "series": series.series_uid,
        "instance": instance.sop_uid,
        "frames": "1",
        "mr_study": unread.pair.mr_study.study_uid,
        "patient_id": unread.pair.patient.patient_id,
        "outsider": people["outsider"].username,
    }
    patients = [p["patient_id"] for p in manifest["patients"]]
    world.secrets = [*patients, *Study.objects.filter(projects=spine).values_list("study_uid", flat=True)]
    return world


@pytest.fixture(scope="module", name="world")
def world_fixture(django_db_setup, django_db_blocker, tmp_path_factory):
    """The platform, built once for a test module inside a transaction rolled back at its end (a test's
    own transaction nests inside it). Passwords hash fast here: the matrix logs everyone in."""
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with fast, django_db_blocker.unblock(), transaction.atomic():
        yield build_world(tmp_path_factory.mktemp("world"))
        transaction.set_rollback(True)
