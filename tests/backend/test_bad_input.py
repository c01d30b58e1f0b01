"""Hostile input answered 400 with the usual error body, never a server error or Django's HTML page."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from backend.imaging.models import Patient, Study, StudyPair
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


def _error(response, code: str | None = None) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = json.loads(response.content)["error"]
    assert code is None or error["code"] == code, error
    return error


@pytest.fixture
def case(reader) -> Case:
    project = project_create(name="Bad input", slug="bad")
    project_member_add(project=project, user=reader.user)
    patient = Patient.objects.create(patient_id="P1")
    ct = Study.objects.create(study_uid="1.2.3.1", patient=patient, modality="CT")
    mr = Study.objects.create(study_uid="1.2.3.2", patient=patient, modality="MR")
    ct.projects.add(project)
    return Case.objects.create(
        project=project, pair=StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
    )


@pytest.mark.parametrize("query", ["offset=abc", "limit=abc", "offset=-1", "limit=-5", "offset=1e99"])
@pytest.mark.parametrize("path", ["/dicomweb/studies", "/dicomweb/studies/1.2.3.1/series"])
def test_dicomweb_paging_must_be_non_negative_integers(reader_client, case, path, query):
    error = _error(reader_client.get(f"{path}?{query}"), "validation_error")
    assert set(error["fields"]) <= {"offset", "limit"}


@pytest.mark.parametrize(
    "path",
    [
        "/dicomweb/studies?PatientID=P%001",
        "/dicomweb/studies?StudyInstanceUID=1.2%00",
        "/dicomweb/studies?Pa%00tientID=1",
        "/dicomweb/studies/1.2.3.1%00/series",
        "/dicomweb/studies/1.2.3.1/series/1.2%00.3/instances",
        "/dicomweb/studies/1.2.3.1%00/metadata",
        "/api/reading/worklist/?project=bad%00",
    ],
)
def test_nul_characters_in_the_path_or_query_are_refused(reader_client, case, path):
    _error(reader_client.get(path), "nul_character")


def test_stow_with_a_nul_in_project_is_refused():
    _error(APIClient().post("/dicomweb/studies?project=a%00b", b"", content_type="application/dicom"))


def test_submit_with_a_json_array_body(reader_client, case):
    _error(
        reader_client.post(f"/api/reading/cases/{case.pk}/submit/", [1, 2], format="json"), "validation_error"
    )
    assert case.assignments.filter(status="submitted").count() == 0


@pytest.mark.parametrize("authenticated", [False, True])
def test_deeply_nested_json_is_a_400(reader_client, case, authenticated):
    client = reader_client if authenticated else APIClient()
    path = f"/api/reading/cases/{case.pk}/submit/" if authenticated else "/api/auth/login/"
    _error(client.generic("POST", path, DEEP, content_type="application/json"), "too_deeply_nested")


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_limit_gets_the_json_error_body(settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"username": "x" * 2000, "password": "y"})
    if content_type != "application/json":
        body = f"username={'x' * 2000}&password=y"
    response = Client().generic("POST", "/api/auth/login/", body, content_type=content_type)
    assert "1000 bytes" in _error(response, "request_too_large")["message"]
