"""The prediction API: the champion on a stored study or on uploaded files, for admins, rate-limited."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from backend.common.levels import LEVELS
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.services import model_version_promote, model_version_register
from backend.projects.services import project_create, project_member_add
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(loop_cohort):
    project = project_create(name="Predict", slug="predict", blinded_share=0.0, reference_share=0.0)
    first = sorted(p for p in loop_cohort.iterdir() if p.is_dir())[0]
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(first.rglob("*.dcm")),
    )
    return project


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin(project):
    user = ReaderFactory(username="caller").user
    project_member_add(project=project, user=user, role="admin")
    return _client(user)


def _ct_uid(project) -> str:
    return project.studies.get(modality="CT").study_uid


def test_the_champion_grades_a_stored_study_and_an_uploaded_one(project, admin, loop_cohort, loop_checkpoint):
    url = "/api/learning/projects/predict/predict/"
    none_yet = admin.post(url, {"study_uid": _ct_uid(project)}, format="json")
    assert none_yet.status_code == 409 and none_yet.json()["error"]["code"] == "no_model"
    model_version_promote(version=model_version_register(project=project, checkpoint=loop_checkpoint))

    first = admin.post(url, {"study_uid": _ct_uid(project)}, format="json")
    assert first.status_code == 200, first.content
    body = first.json()
    assert [lv["level"] for lv in body["levels"]] == list(LEVELS) and body["computed"] is True
    for level in body["levels"]:
        assert abs(sum(level["probabilities"]) - 1) < 1e-3 and 0 <= level["grade"] <= 3
        assert abs(level["binary_probability"] - sum(level["probabilities"][2:])) < 1e-3
    assert admin.post(url, {"study_uid": _ct_uid(project)}, format="json").json()["computed"] is False

    second = sorted(p for p in loop_cohort.iterdir() if p.is_dir())[1]
    files = [
        SimpleUploadedFile(p.name, p.read_bytes(), "application/dicom")
        for p in sorted((second / "CT").glob("*.dcm"))
    ]
    uploaded = admin.post(url, {"files": files}, format="multipart")
    assert uploaded.status_code == 200, uploaded.content
    assert (
        uploaded.json()["study_uid"]
        == project.studies.filter(patient__patient_id=second.name).get(modality="CT").study_uid
    )

    bad = [*files[:2], SimpleUploadedFile("report.txt", b"not an image", "text/plain")]
    refused = admin.post(url, {"files": bad}, format="multipart")
    assert refused.status_code == 400 and "report.txt" in refused.json()["error"]["message"]
    mr = project.studies.filter(modality="MR").first().study_uid
    assert admin.post(url, {"study_uid": mr}, format="json").json()["error"]["code"] == "not_ct"
    assert admin.post(url, {"study_uid": "1.2.3.404"}, format="json").status_code == 404
    nul = admin.post(url, {"study_uid": "1.2\u0000.3"}, format="json")
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "invalid_uid"


def test_only_the_projects_admins_may_ask_and_each_caller_is_rate_limited(project, admin, monkeypatch):
    url = "/api/learning/projects/predict/predict/"
    reader = ReaderFactory().user
    project_member_add(project=project, user=reader, role="reader")
    assert _client(reader).post(url, {"study_uid": _ct_uid(project)}, format="json").status_code == 403
    stranger = ReaderFactory().user
    project_member_add(
        project=project_create(name="Other", slug="other", blinded_share=0.0), user=stranger, role="admin"
    )
    assert _client(stranger).post(url, {"study_uid": _ct_uid(project)}, format="json").status_code == 404

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"predict": "2/minute"})
    codes = [admin.post(url, {"study_uid": _ct_uid(project)}, format="json").status_code for _ in range(3)]
    assert codes == [409, 409, 429], "no model yet (409), then the third call in a minute is throttled"
