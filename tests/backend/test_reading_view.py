"""What the reading view needs from the case API: per-level slice positions in CT and MR stacks."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from backend.learning.models import ModelVersion
from backend.projects.services import project_member_add
from backend.reading import selectors
from backend.reading.models import Case, LevelPosition
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory
from tests.backend.reading_data import synthetic_reading_project

pytestmark = pytest.mark.django_db
LEVELS = ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]


def reader_client(project):
    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    return client


def case_of(project, patient: dict) -> Case:
    return Case.objects.get(project=project, pair__ct_study__study_uid=patient["ct"]["study_uid"])


def test_levels_sit_at_the_champions_boxes_on_ct_and_the_disc_aligned_mr_images(tmp_path):
    project, manifest = synthetic_reading_project(tmp_path, patients=2)
    client = reader_client(project)
    for patient in manifest["patients"]:
        body = client.get(f"/api/reading/cases/{case_of(project, patient).pk}/").json()
        positions = body["level_positions"]
        assert positions["ct_series_uid"] == patient["ct"]["series_uid"]
        assert positions["mr_axial_series_uid"] == patient["mr"]["axial_series_uid"]
        assert positions["mr_sagittal_series_uid"] == patient["mr"]["sagittal_series_uid"]
        assert [p["level"] for p in positions["levels"]] == LEVELS
        for position, truth in zip(positions["levels"], patient["levels"], strict=True):
            assert position["ct_source"] == "model"
            # the box's centre row is the disc's z at the canal, the truth is the nearest slice to it
            assert abs(position["ct_index"] - truth["disc_slice_index"]) <= 1, (position, truth["level"])
            assert (position["mr_index"], position["mr_source"]) == (
                truth["mr_axial_instance"] - 1,
                "disc_aligned",
            )


def test_without_a_champion_ct_levels_are_spread_evenly_down_the_stack(tmp_path):
    project, manifest = synthetic_reading_project(tmp_path, patients=1, champion=False)
    client = reader_client(project)
    patient = manifest["patients"][0]
    case = case_of(project, patient)
    body = client.get(f"/api/reading/cases/{case.pk}/").json()
    assert body["suggestions"]["message"] == "No model suggestion yet."
    placed = body["level_positions"]["levels"]
    assert {p["ct_source"] for p in placed} <= {"finder", "even"}, (
        "the model-free finder's where it placed one"
    )
    # A study the finder could not read: the levels are spread evenly down the stack.
    LevelPosition.objects.filter(study=case.pair.ct_study).delete()
    levels = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"]
    indices = [p["ct_index"] for p in levels]
    assert {p["ct_source"] for p in levels} == {"even"}
    assert indices == sorted(set(indices)), "superior to inferior, one slice each"
    assert 0 < indices[0] and indices[-1] < patient["ct"]["n_slices"] - 1
    assert [p["mr_index"] for p in levels] == [0, 1, 2, 3, 4, 5]  # the disc-aligned series needs no model


def test_a_blinded_case_gets_no_model_derived_positions(tmp_path):
    project, manifest = synthetic_reading_project(tmp_path, patients=1)
    patient = manifest["patients"][0]
    case = case_of(project, patient)
    client = reader_client(project)
    LevelPosition.objects.filter(study=case.pair.ct_study, source="finder").delete()  # not the model's
    seen = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"]
    Case.objects.filter(pk=case.pk).update(blinded=True)

    body = client.get(f"/api/reading/cases/{case.pk}/").json()
    assert body["suggestions"] == {"blinded": True, "levels": []}
    levels = body["level_positions"]["levels"]
    assert {p["ct_source"] for p in levels} == {"even"}
    n = patient["ct"]["n_slices"]
    assert [p["ct_index"] for p in levels] == [round((k + 1) * (n - 1) / 7) for k in range(6)]
    assert [p["ct_index"] for p in levels] != [p["ct_index"] for p in seen], "the model's positions differ"
    assert ModelVersion.objects.filter(project=project, status="champion").exists()
    text = str(body)
    assert "probabilities" not in text and "model" not in text.replace("model_", "")


def test_plain_single_image_series_get_positions_too(tmp_path):
    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.projects.services import project_create

    project = project_create(name="Plain", slug="plain", blinded_share=0.0)
    F.write_series(tmp_path / "ct", 10, patient_id="P1", study_date=date(2025, 1, 1))
    F.write_series(tmp_path / "mr", 3, patient_id="P1", modality="MR", study_date=date(2025, 1, 2))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    (case,) = project.cases.all()  # ingestion made it
    positions = selectors.case_level_positions(case=case)
    assert [p["ct_index"] for p in positions["levels"]] == [1, 3, 4, 5, 6, 8]
    assert [p["mr_index"] for p in positions["levels"]] == [0, 1, 1, 1, 1, 2]
    assert {p["mr_source"] for p in positions["levels"]} == {"even"}
    assert positions["mr_sagittal_series_uid"] is None


def test_the_case_api_runs_as_many_queries_for_many_images_as_for_few(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.projects.services import project_create

    queries = {}
    for slices in (3, 24):
        project = project_create(name=f"Q{slices}", slug=f"q{slices}", blinded_share=0.0)
        patient = f"Q{slices}"
        F.write_series(tmp_path / patient / "ct", slices, patient_id=patient, study_date=date(2025, 1, 1))
        F.write_series(
            tmp_path / patient / "mr", slices, patient_id=patient, modality="MR", study_date=date(2025, 1, 2)
        )
        ingest_job_run(
            job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
            paths=sorted((tmp_path / patient).rglob("*.dcm")),
        )
        (case,) = project.cases.all()
        client = reader_client(project)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/reading/cases/{case.pk}/").status_code == 200
        queries[slices] = len(captured)
    assert queries[24] == queries[3], queries
