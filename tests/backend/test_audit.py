"""Audit of every action: who and when, per project, as an API and a CSV; field-level history by django-auditlog."""

import csv
import io
from datetime import date

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from backend.imaging.models import IngestJob, Study
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import ModelVersion, TrainingRun
from backend.learning.services import model_version_promote
from backend.projects.models import AuditEntry, Membership
from backend.projects.services import project_create, project_member_add
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Audit", slug="audit", blinded_share=0.0, reference_share=0.0)
    F.write_series(tmp_path / "ct", 2, patient_id="P1", study_date=date(2025, 1, 1))
    for k, day in enumerate((5, 9)):
        F.write_series(tmp_path / f"mr{k}", 2, patient_id="P1", modality="MR", study_date=date(2025, 1, day))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    for number in (1, 2):
        ModelVersion.objects.create(project=project, number=number, status=ModelVersion.Status.CHALLENGER)
    return project


@pytest.fixture
def admin(project):
    user = ReaderFactory(username="ada").user
    project_member_add(project=project, user=user, role="admin")
    return user


def _audit(client, **params) -> dict:
    response = client.get("/api/projects/audit/audit/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_every_admin_action_is_audited_with_its_actor(project, admin):
    client = client_of(admin)
    case = project.cases.get()
    other_mr = Study.objects.filter(modality="MR").exclude(pk=case.pair.mr_study_id).get()
    carol = ReaderFactory(username="carol").user

    assert client.post("/api/learning/projects/audit/model-versions/1/promote/").status_code == 200
    assert client.post("/api/learning/projects/audit/model-versions/2/promote/").status_code == 200
    assert client.post("/api/learning/projects/audit/rollback/").status_code == 200
    run = client.post("/api/learning/projects/audit/training-runs/").json()
    TrainingRun.objects.filter(pk=run["id"]).update(status=TrainingRun.Status.FAILED)
    assert client.post(f"/api/learning/projects/audit/training-runs/{run['id']}/retry/").status_code == 202
    assert (
        client.put(
            f"/api/learning/projects/audit/reference-set/{case.pk}/",
            {"in_reference_set": True},
            format="json",
        ).status_code
        == 200
    )
    assert (
        client.patch(
            f"/api/imaging/pairs/{case.pair_id}/", {"mr_study_uid": other_mr.study_uid}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.post("/api/projects/audit/members/", {"username": "carol"}, format="json").status_code == 201
    )
    assert (
        client.patch(f"/api/projects/audit/members/{carol.pk}/", {"role": "admin"}, format="json").status_code
        == 200
    )
    assert client.delete(f"/api/projects/audit/members/{carol.pk}/").status_code == 204
    assert client.get("/api/exports/projects/audit/annotations.csv").status_code == 200
    assert client.get("/api/exports/projects/audit/model-metrics.csv").status_code == 200

    body = _audit(client, limit=100)
    actions = [entry["action"] for entry in reversed(body["results"])]
    assert actions == [
        "member.add",  # ada, by the fixture (no actor)
        "model.promote",
        "model.promote",
        "model.rollback",
        "training.start",
        "training.retry",
        "reference_set.move",
        "pair.override",
        "member.add",
        "member.role",
        "member.remove",
        "export.download",
        "export.download",
    ]
    assert {entry["actor"] for entry in body["results"][:-1]} == {"ada"}
    assert body["results"][-1]["actor"] == ""
    promote = body["results"][-2]
    assert promote["target_type"] == "learning.modelversion" and promote["details"]["version"] == "audit-v1"
    pair = next(entry for entry in body["results"] if entry["action"] == "pair.override")
    assert pair["details"]["to"] == other_mr.study_uid and pair["details"]["from"] != other_mr.study_uid
    role = next(entry for entry in body["results"] if entry["action"] == "member.role")
    assert role["details"] == {"user": "carol", "from": "reader", "to": "admin"}
    assert [e["details"]["export"] for e in body["results"][:2]] == ["model-metrics.csv", "annotations.csv"]


def test_the_audit_filters_by_action_and_pages(project, admin):
    client = client_of(admin)
    for number in (1, 2, 1):
        ModelVersion.objects.filter(project=project, number=number).update(
            status=ModelVersion.Status.CHALLENGER
        )
        client.post(f"/api/learning/projects/audit/model-versions/{number}/promote/")
    promotions = _audit(client, action="model.promote", limit=2)
    assert promotions["count"] == 3 and len(promotions["results"]) == 2 and promotions["next"]
    assert [e["details"]["version"] for e in promotions["results"]] == ["audit-v1", "audit-v2"]
    rest = _audit(client, action="model.promote", limit=2, offset=2)
    assert [e["details"]["version"] for e in rest["results"]] == ["audit-v1"] and rest["next"] is None
    assert client.get("/api/projects/audit/audit/", {"action": "nonsense"}).status_code == 400


def test_a_promotion_by_the_gate_has_no_actor(project, admin):
    model_version_promote(version=ModelVersion.objects.get(project=project, number=1))
    (entry,) = _audit(client_of(admin), action="model.promote")["results"]
    assert entry["actor"] == "" and entry["details"] == {"version": "audit-v1", "replaced": None}


def test_the_audit_is_for_the_projects_admins_only(project, admin, tmp_path):
    other = project_create(name="Other", slug="other")
    stranger = ReaderFactory().user
    project_member_add(project=other, user=stranger, role="admin")
    reader = ReaderFactory().user
    project_member_add(project=project, user=reader)
    for url in ("/api/projects/audit/audit/", "/api/exports/projects/audit/audit.csv"):
        assert client_of(stranger).get(url).status_code == 404, url
        assert client_of(reader).get(url).status_code == 403, url
        assert APIClient().get(url).status_code == 401, url


def test_the_audit_as_csv_records_its_own_download(project, admin):
    client = client_of(admin)
    client.post("/api/learning/projects/audit/model-versions/1/promote/")
    response = client.get("/api/exports/projects/audit/audit.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("ada", "export.download"),
        ("ada", "model.promote"),
        ("", "member.add"),
    ]
    assert '"export":"audit.csv"' in rows[0]["details"]
    only = client.get("/api/exports/projects/audit/audit.csv", {"action": "model.promote"})
    assert len(list(csv.DictReader(io.StringIO(b"".join(only.streaming_content).decode())))) == 1


def test_auditlog_keeps_the_field_history_of_a_membership(project, admin):
    membership = Membership.objects.get(project=project, user=admin)
    client_of(admin).patch(f"/api/projects/audit/members/{admin.pk}/", {"role": "reader"}, format="json")
    entries = LogEntry.objects.get_for_object(membership).order_by("timestamp")
    assert [entry.action for entry in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert entries.last().changes_dict["role"] == ["admin", "reader"]
    assert AuditEntry.objects.filter(project=project, action="member.role").exists()


def test_a_change_made_with_an_api_token_names_its_actor_in_the_field_history(project, admin):
    admin.set_password("s3cret-pass!")
    admin.save()
    token = APIClient().post(
        "/api/auth/token/", {"username": "ada", "password": "s3cret-pass!"}, format="json"
    )
    assert token.status_code == 200, token.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert (
        client.patch(
            f"/api/projects/audit/members/{admin.pk}/", {"role": "reader"}, format="json"
        ).status_code
        == 200
    )
    membership = Membership.objects.get(project=project, user=admin)
    update = LogEntry.objects.get_for_object(membership).filter(action=LogEntry.Action.UPDATE).get()
    assert update.actor == admin, "a token request is as attributable as a session one"
