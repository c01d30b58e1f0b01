"""Levels without a model: the finder places them at ingest, readers correct them privately, training
crops the graded levels where they lie."""

import numpy as np
import pytest
from rest_framework.test import APIClient

from backend.learning.services.training import _training_studies
from backend.projects.services import project_member_add
from backend.reading.models import Case, LevelPosition
from tests.backend.factories import ReaderFactory
from tests.backend.reading_data import synthetic_reading_project

pytestmark = pytest.mark.django_db
LEVELS = ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]


def reader_client(project):
    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    return client, reader.user


@pytest.fixture
def project_without_model(tmp_path):
    return synthetic_reading_project(tmp_path, patients=2, champion=False, image_size=128)


def test_ingest_places_the_levels_and_the_view_moves_the_ct_stack_to_them(project_without_model):
    project, manifest = project_without_model
    patient = manifest["patients"][0]
    case = Case.objects.get(project=project, pair__ct_study__study_uid=patient["ct"]["study_uid"])
    finder_rows = LevelPosition.objects.filter(study=case.pair.ct_study, source="finder")
    assert finder_rows.count() >= 5, "the finder placed the CT's levels at ingest, before any model"
    assert LevelPosition.objects.filter(study=case.pair.mr_study, source="finder").exists()

    client, _ = reader_client(project)
    positions = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]
    placed = [lv for lv in positions["levels"] if lv["ct_source"] == "finder"]
    assert len(placed) >= 5
    for level in placed:
        truth = next(t for t in patient["levels"] if t["level"] == level["level"])
        assert abs(level["ct_index"] - truth["disc_slice_index"]) <= 2, level
        assert np.linalg.norm(np.subtract(level["ct_position"]["centre"], truth["ct_disc_centre_mm"])) < 4.0


def test_a_readers_correction_is_theirs_alone_and_is_checked(project_without_model):
    project, manifest = project_without_model
    case = Case.objects.filter(project=project).first()
    client, user = reader_client(project)
    other, _ = reader_client(project)
    before = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"][2]
    centre = before["ct_position"]["centre"]
    moved = [centre[0], centre[1], centre[2] - 6.0]

    answer = client.put(
        f"/api/reading/cases/{case.pk}/levels/C4-5/position/",
        {"modality": "CT", "centre": moved},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    level = answer.json()["levels"][2]
    assert level["ct_source"] == "reader" and level["ct_position"]["centre"] == pytest.approx(moved)
    assert level["ct_index"] != before["ct_index"] or before["ct_source"] != "finder"
    theirs = other.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"][2]
    assert theirs["ct_source"] == "finder", "another reader never sees this reader's correction"
    history = LevelPosition.objects.filter(study=case.pair.ct_study, level="C4/5").order_by("created_at")
    assert [row.source for row in history][-1] == "reader" and history.count() >= 2, "earlier positions kept"

    for bad in (
        {"modality": "CT", "centre": [0, 0]},
        {"modality": "CT", "centre": [1e308, 0, 0]},
        {"modality": "PET", "centre": [0, 0, 0]},
        {"modality": "CT", "centre": [0, 0, 0], "normal": [0, 0, 0]},
    ):
        refused = client.put(f"/api/reading/cases/{case.pk}/levels/C4-5/position/", bad, format="json")
        assert refused.status_code == 400, (bad, refused.content)
    assert (
        client.put(
            f"/api/reading/cases/{case.pk}/levels/C9-10/position/",
            {"modality": "CT", "centre": moved},
            format="json",
        ).status_code
        == 400
    )
    stranger = APIClient()
    assert stranger.put(
        f"/api/reading/cases/{case.pk}/levels/C4-5/position/",
        {"modality": "CT", "centre": moved},
        format="json",
    ).status_code in (401, 403)


def test_training_takes_the_readers_corrected_positions(project_without_model):
    from backend.learning.models import ReferenceLabel

    project, _ = project_without_model
    case = Case.objects.filter(project=project).first()
    _, user = reader_client(project)
    ReferenceLabel.objects.create(case=case, level="C4/5", grade=2, source="senior", n_readers=1)
    ReferenceLabel.objects.create(case=case, level="C5/6", grade=0, source="senior", n_readers=1)
    finder = LevelPosition.objects.filter(study=case.pair.ct_study, level="C4/5", source="finder").first()
    from backend.reading.level_positions import level_position_correct

    level_position_correct(case=case, reader=user, modality="CT", level="C4/5", centre=finder.centre)
    studies = _training_studies(project=project)
    assert len(studies) == 1 and set(studies[0]["grades"]) == {"C4/5", "C5/6"}
    canal, source = studies[0]["positions"]["C4/5"]
    assert source == "reader" and len(canal) == 3
    assert "C5/6" not in studies[0]["positions"], "the finder's own positions are placed inside ml"


def test_the_retrain_threshold_counts_only_labels_training_can_crop(project_without_model):
    from backend.learning.models import ReferenceLabel
    from backend.learning.services import training_labels_count

    project, _ = project_without_model
    case = Case.objects.filter(project=project).first()
    study = case.pair.ct_study
    LevelPosition.objects.filter(study=study, level__in=["C6/7", "C7/T1"]).delete()  # the finder missed them
    for level in ("C5/6", "C6/7", "C7/T1"):
        ReferenceLabel.objects.create(case=case, level=level, grade=1, source="senior", n_readers=1)
    ReferenceLabel.objects.filter(level="C7/T1").update(box=[10, 10, 40, 30])  # a reader drew this one
    assert training_labels_count(project=project) == 2, "C5/6 (finder) and C7/T1 (box); C6/7 has neither"
    from backend.reading.level_positions import level_position_correct

    reader = project.memberships.first().user if project.memberships.exists() else reader_client(project)[1]
    level_position_correct(case=case, reader=reader, modality="CT", level="C6/7", centre=[0.0, 0.0, -80.0])
    assert training_labels_count(project=project) == 3


def test_an_mr_without_a_sagittal_series_gets_no_mr_positions_and_the_case_still_reads(tmp_path):
    import shutil

    from tests.backend.reading_data import synthetic_cohort

    manifest = synthetic_cohort(tmp_path / "cohort", patients=1, image_size=128)
    for folder in (tmp_path / "cohort").glob("*/MR_SAG_T2"):
        shutil.rmtree(folder)
    project, _ = synthetic_reading_project(tmp_path, patients=1, champion=False, image_size=128)
    case = Case.objects.get(project=project)
    assert LevelPosition.objects.filter(study=case.pair.ct_study, source="finder").count() >= 5
    assert not LevelPosition.objects.filter(study=case.pair.mr_study).exists()
    client, _ = reader_client(project)
    detail = client.get(f"/api/reading/cases/{case.pk}/").json()
    assert detail["level_positions"]["mr_sagittal_series_uid"] is None
    assert all(
        lv["mr_position"] is None and lv["mr_source"] == "disc_aligned"
        for lv in detail["level_positions"]["levels"]
    )
    saved = client.put(
        f"/api/reading/cases/{case.pk}/levels/C3-4/", {"grade": 2, "version": None}, format="json"
    )
    assert saved.status_code == 200 and saved.json()["grade"] == 2
    assert manifest["patients"][0]["patient_id"] == case.pair.patient.patient_id


def test_a_project_whose_readers_drew_no_box_trains_from_the_finders_positions(tmp_path):
    import json

    from backend.learning.models import ModelVersion, ReferenceLabel, TrainingRun
    from backend.learning.services import training_run_execute, training_run_start
    from backend.projects.models import Project

    project, manifest = synthetic_reading_project(tmp_path, patients=3, champion=False, image_size=128)
    Project.objects.filter(pk=project.pk).update(training_preset="smoke")
    project.refresh_from_db()
    by_uid = {p["ct"]["study_uid"]: p for p in manifest["patients"]}
    for case in Case.objects.filter(project=project).select_related("pair__ct_study"):
        for level in by_uid[case.pair.ct_study.study_uid]["levels"]:
            ReferenceLabel.objects.create(
                case=case, level=level["level"], grade=level["grade"], source="senior", n_readers=1
            )
    run = training_run_execute(run_id=training_run_start(project=project, queue=False).pk, worker="test")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.training_snapshot["labels"] == 18
    sources = version.training_snapshot["roi_sources"]
    assert sources["reader_box"] == 0 and sources["finder"] > 0, "training says where its crops came from"
    json.dumps(run.progress, allow_nan=False)

    # A detector with no box to check itself against reports no recall; the progress row stays JSON.
    from backend.learning.services.training import _Progress

    report = _Progress(run, every_s=0.0)
    report(
        {"stage": "detector_epoch", "epoch": 1, "epochs": 2, "loss": 0.5, "level_recall_iou50": float("nan")}
    )
    run.refresh_from_db()
    assert run.progress["history"][-1]["level_recall_iou50"] is None


def test_admins_see_every_placement_of_a_cases_levels_and_nobody_else_does(project_without_model):
    from backend.accounts.models import Role
    from backend.projects.services import project_create

    project, _ = project_without_model
    case = Case.objects.filter(project=project).first()
    reader, user = reader_client(project)
    reader.put(
        f"/api/reading/cases/{case.pk}/levels/C3-4/position/",
        {"modality": "CT", "centre": [1.0, 2.0, -30.0]},
        format="json",
    )
    admin_user = ReaderFactory().user
    project_member_add(project=project, user=admin_user, role=Role.ADMIN)
    admin = APIClient()
    admin.force_authenticate(admin_user)
    history = admin.get(f"/api/reading/cases/{case.pk}/level-positions/")
    assert history.status_code == 200, history.content
    rows = history.json()
    assert {r["source"] for r in rows} == {"finder", "reader"}
    correction = [r for r in rows if r["source"] == "reader"]
    assert correction == [dict(correction[0], author=user.username, case_id=case.pk, level="C3/4")]
    assert reader.get(f"/api/reading/cases/{case.pk}/level-positions/").status_code == 403
    other = project_create(name="Other", slug="other")
    outsider_user = ReaderFactory().user
    project_member_add(project=other, user=outsider_user, role=Role.ADMIN)
    outsider = APIClient()
    outsider.force_authenticate(outsider_user)
    assert outsider.get(f"/api/reading/cases/{case.pk}/level-positions/").status_code == 404
