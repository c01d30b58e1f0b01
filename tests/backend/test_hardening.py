"""Smaller holes: formula injection in every CSV text cell, what readers see of model versions, box
bounds, DEBUG off unless set."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.learning.models import ModelVersion
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return project_create(name="Hardening", slug="hard", reference_share=0.0)


def _case(project, patient_id: str) -> Case:
    patient = Patient.objects.create(patient_id=patient_id)
    ct = Study.objects.create(study_uid="1.2.9.1", patient=patient, modality="CT")
    mr = Study.objects.create(study_uid="1.2.9.2", patient=patient, modality="MR")
    ct.projects.add(project)
    return Case.objects.create(
        project=project, pair=StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
    )


def _client(profile) -> APIClient:
    client = APIClient()
    client.force_authenticate(profile.user)
    return client


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_text_cell_of_the_csv_export_is_defused(project, start):
    case = _case(project, f"{start}HYPERLINK(evil)")
    reader = ReaderFactory(username=f"{start}reader".strip())
    project_member_add(project=project, user=reader.user)
    assignment = assignment_open(case=case, reader=reader.user)
    for level in LEVELS:
        level_annotation_save(
            assignment=assignment,
            level=level,
            user=reader.user,
            version=None,
            grade=1,
            note=f"{start}cmd",
            model_version_shown=f"{start}v1",
        )
    assignment_submit(assignment=assignment, user=reader.user, notify_learning=False)
    admin = ReaderFactory(role="admin")
    response = _client(admin).get("/api/exports/projects/hard/annotations.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert len(rows) == 6
    for row in rows:
        assert row["patient_id"] == f"'{start}HYPERLINK(evil)" and row["note"] == f"'{start}cmd"
        assert row["model_version_shown"] == f"'{start}v1"
        assert all(not value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values()), row
        if start in "=+-@":
            assert row["reader"] == f"'{start}reader"


def test_readers_see_no_checkpoint_paths_metrics_or_training_errors(project, reader, reader_client):
    project_member_add(project=project, user=reader.user)
    ModelVersion.objects.create(
        project=project,
        number=1,
        status="failed",
        checkpoint="/srv/models/hard/v1/model.pt",
        config={"out": "/srv/models/hard/v1", "cohort": "/srv/cohort"},
        metrics={"test": {"kappa": 0.8}},
        error="Traceback (most recent call last): File /srv/app/ml/train.py ...",
    )
    url = "/api/learning/projects/hard/model-versions/"
    (seen,) = reader_client.get(url).json()
    assert set(seen) == {"id", "project", "number", "label", "status", "created_at", "promoted_at"}
    assert "/srv" not in str(seen)
    (full,) = _client(ReaderFactory(role="admin")).get(url).json()
    assert full["error"].startswith("Traceback") and full["config"]["out"] == "/srv/models/hard/v1"
    assert full["metrics"] == {"test": {"kappa": 0.8}}


@pytest.mark.parametrize(
    "box",
    [
        [0, 0, 1e308, 1e308],
        [0, 0, 5000, 20],
        [10, 10, 20, 4097],
        [-1, 0, 10, 10],
    ],
)
def test_boxes_must_be_finite_ordered_and_within_4096_pixels(project, reader, reader_client, box):
    project_member_add(project=project, user=reader.user)
    case = _case(project, "P1")
    response = reader_client.put(f"/api/reading/cases/{case.pk}/levels/C5-6/", {"box": box}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_box"


def test_a_box_at_the_bound_is_kept(project, reader, reader_client):
    project_member_add(project=project, user=reader.user)
    case = _case(project, "P1")
    response = reader_client.put(
        f"/api/reading/cases/{case.pk}/levels/C5-6/", {"box": [0, 0, 4096, 4096]}, format="json"
    )
    assert response.status_code == 200 and response.json()["box"] == [0, 0, 4096, 4096]


def test_debug_is_off_unless_set():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    code = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "SECRET_KEY": "k" * 50},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout
    assert os.environ["DEBUG"] == "1", "the tests turn it on (pytest-env, pyproject.toml)"
