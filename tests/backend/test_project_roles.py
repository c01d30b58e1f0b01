"""Roles per project: an admin of one project runs that project and cannot see or change another."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import ModelVersion, TrainingRun
from backend.projects.models import Membership
from backend.projects.services import project_create, project_member_add
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _project(tmp_path, slug: str, patient: str):
    project = project_create(name=slug.title(), slug=slug, blinded_share=0.0, reference_share=0.0)
    F.write_series(tmp_path / slug / "ct", 2, patient_id=patient, study_date=date(2025, 1, 1))
    F.write_series(tmp_path / slug / "mr", 2, patient_id=patient, modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted((tmp_path / slug).rglob("*.dcm")),
    )
    ModelVersion.objects.create(project=project, number=1, status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.create(project=project, number=2, status=ModelVersion.Status.CHALLENGER)
    assert project.cases.count() == 1
    return project


@pytest.fixture
def two_projects(tmp_path):
    """Projects a and b, each with one case, a retired and a challenger version; alice is an admin
    of a only, bob a reader of a and an admin of b."""
    a, b = _project(tmp_path, "a", "PA"), _project(tmp_path, "b", "PB")
    alice, bob = ReaderFactory(username="alice").user, ReaderFactory(username="bob").user
    project_member_add(project=a, user=alice, role="admin")
    project_member_add(project=a, user=bob)
    project_member_add(project=b, user=bob, role="admin")
    return a, b, alice, bob


def _admin_requests(slug: str, case_id: int, pair_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/api/dashboard/projects/{slug}/summary/", None),
        ("get", f"/api/dashboard/projects/{slug}/model-registry/", None),
        ("get", f"/api/exports/projects/{slug}/annotations.csv", None),
        ("get", f"/api/exports/projects/{slug}/model-metrics.csv", None),
        ("post", f"/api/learning/projects/{slug}/training-runs/", None),
        ("get", f"/api/learning/projects/{slug}/reference-set/", None),
        (
            "post",
            f"/api/learning/projects/{slug}/reference-set/",
            {"case_ids": [case_id], "in_reference_set": True},
        ),
        ("put", f"/api/learning/projects/{slug}/reference-set/{case_id}/", {"in_reference_set": True}),
        ("post", f"/api/learning/projects/{slug}/model-versions/2/promote/", None),
        ("post", f"/api/learning/projects/{slug}/rollback/", None),
        ("patch", f"/api/imaging/pairs/{pair_id}/", {"mr_study_uid": None}),
        ("get", f"/api/projects/{slug}/members/", None),
    ]


def test_an_admin_of_one_project_gets_404_on_every_admin_endpoint_of_another(two_projects):
    a, b, alice, _ = two_projects
    case = b.cases.get()
    alice_client = client_of(alice)
    for method, url, body in _admin_requests("b", case.pk, case.pair_id):
        response = getattr(alice_client, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert not TrainingRun.objects.filter(project=b).exists()
    assert not b.cases.filter(in_reference_set=True).exists()
    assert b.model_versions.get(number=2).status == ModelVersion.Status.CHALLENGER
    assert b.cases.get().pair.mr_study is not None
    assert alice_client.get(f"/api/exports/cases/{case.pk}/sr.dcm").status_code == 404


def test_a_reader_of_a_project_is_refused_its_admin_endpoints_even_as_an_admin_elsewhere(two_projects):
    a, _, _, bob = two_projects
    case = a.cases.get()
    bob_client = client_of(bob)
    for method, url, body in _admin_requests("a", case.pk, case.pair_id):
        response = getattr(bob_client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url, response.content)
        assert response.json()["error"]["code"] == "permission_denied"
    assert not TrainingRun.objects.filter(project=a).exists()


def test_the_admin_of_a_project_runs_it(two_projects):
    a, _, alice, _ = two_projects
    case = a.cases.get()
    alice_client = client_of(alice)
    assert alice_client.get("/api/dashboard/projects/a/summary/").status_code == 200
    assert alice_client.get("/api/exports/projects/a/annotations.csv").status_code == 200
    assert alice_client.post("/api/learning/projects/a/training-runs/").status_code == 202
    moved = alice_client.put(
        f"/api/learning/projects/a/reference-set/{case.pk}/", {"in_reference_set": True}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["in_reference_set"] is True
    assert alice_client.post("/api/learning/projects/a/model-versions/2/promote/").status_code == 200
    versions = alice_client.get("/api/learning/projects/a/model-versions/").json()
    assert "metrics" in versions[0], "an admin of the project sees the admin fields"
    assert [p["slug"] for p in alice_client.get("/api/dashboard/projects/").json()] == ["a"]


def test_a_pair_shared_with_a_project_one_does_not_run_cannot_be_changed(two_projects):
    a, b, alice, _ = two_projects
    pair = a.cases.get().pair
    pair.ct_study.projects.add(b)
    response = client_of(alice).patch(f"/api/imaging/pairs/{pair.pk}/", {"mr_study_uid": None}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_uploads_go_into_a_project_the_uploader_runs(two_projects, tmp_path):
    _, _, alice, _ = two_projects
    F.write_image(tmp_path / "x.dcm")
    alice_client = client_of(alice)
    for data, status, code in [({}, 400, "project_required"), ({"project": "b"}, 404, "not_found")]:
        with (tmp_path / "x.dcm").open("rb") as handle:
            response = alice_client.post(
                "/api/imaging/uploads/", {"files": [handle], **data}, format="multipart"
            )
        assert response.status_code == status and response.json()["error"]["code"] == code


def test_my_projects_and_roles(two_projects):
    _, _, alice, bob = two_projects
    assert client_of(bob).get("/api/projects/").json() == [
        {"slug": "a", "name": "A", "role": "reader"},
        {"slug": "b", "name": "B", "role": "admin"},
    ]
    assert client_of(alice).get("/api/projects/").json() == [{"slug": "a", "name": "A", "role": "admin"}]
    boss = ReaderFactory(role="admin").user
    assert [p["role"] for p in client_of(boss).get("/api/projects/").json()] == ["admin", "admin"]


def test_an_admin_manages_the_members_of_their_project_only(two_projects):
    a, b, alice, bob = two_projects
    carol = ReaderFactory(username="carol", experience="senior").user
    alice_client = client_of(alice)

    added = alice_client.post("/api/projects/a/members/", {"username": "carol"}, format="json")
    assert added.status_code == 201 and added.json()["role"] == "reader"
    promoted = alice_client.patch(f"/api/projects/a/members/{carol.pk}/", {"role": "admin"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    members = alice_client.get("/api/projects/a/members/").json()
    assert [(m["username"], m["experience"], m["role"]) for m in members] == [
        ("alice", "junior", "admin"),
        ("bob", "junior", "reader"),
        ("carol", "senior", "admin"),
    ]
    assert alice_client.delete(f"/api/projects/a/members/{carol.pk}/").status_code == 204
    assert not Membership.objects.filter(project=a, user=carol).exists()

    assert (
        alice_client.post("/api/projects/b/members/", {"username": "carol"}, format="json").status_code == 404
    )
    assert (
        alice_client.patch(
            f"/api/projects/b/members/{bob.pk}/", {"role": "reader"}, format="json"
        ).status_code
        == 404
    )
    assert Membership.objects.get(project=b, user=bob).role == "admin"
    unknown = alice_client.post("/api/projects/a/members/", {"username": "nobody"}, format="json")
    assert unknown.status_code == 404
    bad = alice_client.patch(f"/api/projects/a/members/{bob.pk}/", {"role": "owner"}, format="json")
    assert bad.status_code == 400


def test_an_admin_of_a_project_sees_all_its_adjudications_but_not_anothers(two_projects):
    a, b, alice, bob = two_projects
    assert client_of(alice).get("/api/learning/projects/a/adjudications/").status_code == 200
    assert client_of(alice).get("/api/learning/projects/b/adjudications/").status_code == 404
    assert client_of(bob).get("/api/learning/projects/a/adjudications/").status_code == 403, "a junior reader"


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_admins_the_admin_role_in_their_projects():
    executor = MigrationExecutor(connection)
    before = [
        ("projects", "0002_project_kappa_every_project_reference_share_and_more"),
        ("accounts", "0001_initial"),
    ]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User, Profile = old.get_model("auth", "User"), old.get_model("accounts", "ReaderProfile")
    Project, OldMembership = old.get_model("projects", "Project"), old.get_model("projects", "Membership")
    project = Project.objects.create(name="Old", slug="old")
    for username, role in (("old-admin", "admin"), ("old-reader", "reader")):
        user = User.objects.create(username=username)
        Profile.objects.create(user=user, role=role)
        OldMembership.objects.create(project=project, user=user)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    roles = dict(Membership.objects.filter(project__slug="old").values_list("user__username", "role"))
    assert roles == {"old-admin": "admin", "old-reader": "reader"}
