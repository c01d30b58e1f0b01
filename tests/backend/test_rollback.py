"""Rollback to any earlier champion, and the registry's full promotion history."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from backend.common.exceptions import ApplicationError
from backend.learning.models import ModelPromotion, ModelVersion
from backend.learning.services import model_version_promote, model_version_rollback
from backend.projects.services import project_create, project_member_add
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

BASE = "/api/learning/projects/reg"


@pytest.fixture
def project():
    project = project_create(name="Registry", slug="reg")
    for number in (1, 2, 3, 4):
        ModelVersion.objects.create(project=project, number=number, status=ModelVersion.Status.CHALLENGER)
    return project


@pytest.fixture
def admin(project):
    user = ReaderFactory(username="ada").user
    project_member_add(project=project, user=user, role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def _version(project, number: int) -> ModelVersion:
    return ModelVersion.objects.get(project=project, number=number)


def _promote_1_2_3(project) -> None:
    for number in (1, 2, 3):
        model_version_promote(version=_version(project, number))


def _champion(project) -> int:
    return ModelVersion.objects.get(project=project, status="champion").number


def test_a_second_rollback_goes_further_back_instead_of_undoing_the_first(project):
    _promote_1_2_3(project)
    assert model_version_rollback(project=project).number == 2
    assert model_version_rollback(project=project).number == 1, "v3 -> v2 -> v1, not back to v3"
    with pytest.raises(ApplicationError) as caught:
        model_version_rollback(project=project)
    assert caught.value.code == "no_previous"
    assert _champion(project) == 1


def test_an_admin_rolls_back_to_any_earlier_champion(project, admin):
    _promote_1_2_3(project)
    response = admin.post(f"{BASE}/rollback/", {"number": 1}, format="json")
    assert response.status_code == 200 and response.json()["number"] == 1
    assert {v.number: v.status for v in project.model_versions.all()} == {
        1: "champion",
        2: "retired",
        3: "retired",
        4: "challenger",
    }
    assert admin.post(f"{BASE}/rollback/", {"number": 3}, format="json").json()["number"] == 3
    assert admin.post(f"{BASE}/rollback/").json()["number"] == 1, "the champion before v3 is now v1"


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [(3, 409, "already_champion"), (4, 409, "never_champion"), (9, 404, "not_found")],
)
def test_a_rollback_only_brings_back_a_former_champion(project, admin, number, status, code):
    _promote_1_2_3(project)
    response = admin.post(f"{BASE}/rollback/", {"number": number}, format="json")
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert _champion(project) == 3


def test_the_registry_keeps_every_promotion_and_rollback(project, admin):
    _promote_1_2_3(project)
    admin.post(f"{BASE}/rollback/", {"number": 1}, format="json")
    admin.post(f"{BASE}/model-versions/4/promote/")

    history = admin.get(f"{BASE}/promotions/").json()
    assert [(h["kind"], h["number"], h["replaced"], h["by"]) for h in history] == [
        ("promote", 4, "reg-v1", "ada"),
        ("rollback", 1, "reg-v3", "ada"),
        ("promote", 3, "reg-v2", None),
        ("promote", 2, "reg-v1", None),
        ("promote", 1, None, None),
    ]
    rows = {row["number"]: row for row in admin.get("/api/dashboard/projects/reg/model-registry/").json()}
    assert [(p["kind"], p["by"]) for p in rows[1]["promotions"]] == [("promote", None), ("rollback", "ada")]
    assert rows[4]["promotions"][0]["by"] == "ada" and rows[2]["promotions"][0]["kind"] == "promote"
    assert admin.get("/api/learning/projects/reg/promotions/").status_code == 200
    reader = APIClient()
    reader.force_authenticate(ReaderFactory().user)
    assert reader.get(f"{BASE}/promotions/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_past_promotions_into_history():
    project = project_create(name="Old", slug="old-reg")  # projects' tables stay as they are
    before = [("learning", "0004_adjudication_per_reason")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    Version = executor.loader.project_state(before).apps.get_model("learning", "ModelVersion")
    now = timezone.now()
    for number, status, promoted in ((1, "retired", 2), (2, "champion", 1), (3, "challenger", None)):
        Version.objects.create(
            project_id=project.pk,
            number=number,
            status=status,
            promoted_at=None if promoted is None else now - timedelta(days=promoted),
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = ModelPromotion.objects.filter(project__slug="old-reg").order_by("at")
    assert [(p.version.number, p.replaced.number if p.replaced else None, p.kind) for p in rows] == [
        (1, None, "promote"),
        (2, 1, "promote"),
    ]
    assert model_version_rollback(project=rows[0].project).number == 1
