"""Model registry and pre-annotation, with a real (tiny) checkpoint trained by `ml`."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backend.common.exceptions import ApplicationError
from backend.imaging.models import IngestJob, PreAnnotationRequest, Study
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import LevelPrediction, ModelVersion
from backend.learning.services import (
    model_version_import,
    model_version_number_next,
    model_version_promote,
    model_version_register,
    model_version_rollback,
    preannotation_requests_process,
)
from backend.projects.services import project_create, project_member_add
from backend.reading.level_positions import level_positions_for_training
from backend.reading.models import Case, LevelAnnotation, LevelPosition
from backend.reading.services import case_sync_for_project
from ml.config import preset
from ml.train import train
from tests.backend.concurrency import celery_worker_idle_wait, held_in_another_transaction
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from ml.synthetic import CohortConfig, generate_cohort

    cohort = tmp_path_factory.mktemp("learning-cohort")
    generate_cohort(CohortConfig(out=cohort, patients=3, seed=21, image_size=96))
    out = tmp_path_factory.mktemp("learning-model")
    train(preset("smoke", cohort=str(cohort), out=str(out), classifier_epochs=1, detector_epochs=1))
    return cohort, str(out / "model.pt")


@pytest.fixture
def project(checkpoint):
    cohort, _ = checkpoint
    project = project_create(name="Loop", slug="loop", blinded_share=0.0)
    job = ingest_job_create(source=IngestJob.Source.FOLDER, project=project)
    ingest_job_run(job=job, paths=sorted(cohort.rglob("*.dcm")))
    case_sync_for_project(project=project)
    return project


def test_new_ct_studies_wait_for_a_champion_then_get_suggestions(project, checkpoint):
    _, path = checkpoint
    assert PreAnnotationRequest.objects.filter(status="pending").count() == 3
    assert preannotation_requests_process() == {"done": 0, "failed": 0, "waiting": 3, "project_ids": []}
    version = model_version_register(project=project, checkpoint=path)
    assert (version.number, version.status) == (1, "challenger") and version.config[
        "classifier"
    ] == "canal_profile"  # "auto" with few labels
    model_version_promote(version=version)
    result = preannotation_requests_process()
    assert result["done"] == 3 and result["failed"] == 0
    ct = Study.objects.filter(modality="CT").first()
    levels = LevelPrediction.objects.filter(model_version=version, study=ct)
    assert sorted(levels.values_list("level", flat=True)) == ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]
    assert all(abs(sum(p.probabilities) - 1) < 1e-3 for p in levels)
    assert all(p.canal_ap_mm is not None and p.canal_ap_mm >= 0 for p in levels)


def test_reading_view_gets_suggestions_and_records_the_version_shown(project, checkpoint):
    _, path = checkpoint
    model_version_promote(version=model_version_register(project=project, checkpoint=path))
    preannotation_requests_process()
    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    case = Case.objects.first()
    suggestions = client.get(f"/api/reading/cases/{case.pk}/").json()["suggestions"]
    assert suggestions["model_version"] == "loop-v1" and len(suggestions["levels"]) == 6
    assert 0 < suggestions["levels"][0]["confidence"] <= 1
    client.put(f"/api/reading/cases/{case.pk}/levels/C2-3/", {"grade": 1}, format="json")
    annotation = LevelAnnotation.objects.get()
    assert annotation.model_version_shown == "loop-v1" and annotation.suggestion_shown
    case.blinded = True
    case.save()
    assert client.get(f"/api/reading/cases/{case.pk}/").json()["suggestions"] == {
        "blinded": True,
        "levels": [],
    }


def test_one_champion_and_rollback(project, checkpoint):
    _, path = checkpoint
    first = model_version_promote(version=model_version_register(project=project, checkpoint=path))
    second = model_version_promote(version=model_version_register(project=project, checkpoint=path))
    first.refresh_from_db()
    assert (first.status, second.status) == ("retired", "champion")
    assert ModelVersion.objects.filter(project=project, status="champion").count() == 1
    back = model_version_rollback(project=project)
    second.refresh_from_db()
    assert back.pk == first.pk and second.status == "retired"


def test_registering_a_missing_or_foreign_checkpoint_fails_clearly(project, tmp_path):
    with pytest.raises(ApplicationError, match="No checkpoint"):
        model_version_register(project=project, checkpoint=str(tmp_path / "nope.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ApplicationError) as caught:
        model_version_register(project=project, checkpoint=str(tmp_path / "bad.pt"))
    assert caught.value.code == "bad_checkpoint"
    assert not ModelVersion.objects.exists()


def test_promote_and_rollback_through_the_api(project, checkpoint):
    _, path = checkpoint
    first = model_version_register(project=project, checkpoint=path)
    second = model_version_register(project=project, checkpoint=path)
    admin = APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    base = "/api/learning/projects/loop"
    assert admin.post(f"{base}/model-versions/1/promote/").json()["status"] == "champion"
    assert admin.post(f"{base}/model-versions/2/promote/").json()["status"] == "champion"
    listed = {v["number"]: v["status"] for v in admin.get(f"{base}/model-versions/").json()}
    assert listed == {1: "retired", 2: "champion"}
    assert admin.post(f"{base}/rollback/").json()["number"] == first.number
    second.refresh_from_db()
    assert second.status == "retired"
    assert admin.post(f"{base}/model-versions/9/promote/").status_code == 404

    reader = APIClient()
    reader_profile = ReaderFactory()
    project_member_add(project=project, user=reader_profile.user)
    reader.force_authenticate(reader_profile.user)
    assert reader.get(f"{base}/model-versions/").status_code == 200
    assert reader.post(f"{base}/rollback/").status_code == 403


@pytest.fixture
def only_this_tests_passes(monkeypatch):
    """No pre-annotation pass runs but the test's own. Ingest and promotion queue one on commit, and a
    real worker (in CI) runs it, or one an earlier test queued, whenever it gets to it."""
    from backend.learning.services import registry

    sent = registry.task_send
    monkeypatch.setattr(
        registry,
        "task_send",
        lambda task, *a, **kw: task == "learning.preannotate_pending" or sent(task, *a, **kw),
    )
    celery_worker_idle_wait()


@pytest.mark.django_db(transaction=True)
def test_a_request_another_pass_holds_is_skipped_not_served_twice(
    only_this_tests_passes, project, checkpoint
):
    _, path = checkpoint
    model_version_promote(version=model_version_register(project=project, checkpoint=path))
    held = PreAnnotationRequest.objects.filter(status="pending").order_by("pk").first()

    # e.g. the beat's pass while a promotion's wake-up runs another
    with held_in_another_transaction(
        lambda: PreAnnotationRequest.objects.select_for_update().get(pk=held.pk)
    ):
        result = preannotation_requests_process()
    assert result["done"] == 2
    held.refresh_from_db()
    assert held.status == "pending" and not LevelPrediction.objects.filter(study=held.study).exists()
    assert preannotation_requests_process()["done"] == 1, "served once the other pass lets go"


@pytest.mark.django_db(transaction=True)
def test_two_versions_made_at_once_take_different_numbers(project, checkpoint):
    _, path = checkpoint

    def training_in_flight() -> None:  # training_run_execute, its version made but not yet committed
        number = model_version_number_next(project=project)
        ModelVersion.objects.create(project=project, number=number, status="training")

    with held_in_another_transaction(training_in_flight, release_after_s=0.5):
        registered = model_version_register(project=project, checkpoint=path)  # waits for the training
    assert sorted(ModelVersion.objects.values_list("number", flat=True)) == [1, 2] and registered.number == 2


def test_an_imported_checkpoint_is_copied_into_the_project_and_judged_by_the_gate(
    project, checkpoint, tmp_path, settings
):
    _, path = checkpoint
    settings.MODELS_DIR = tmp_path / "models"
    source = tmp_path / "trained-elsewhere.pt"
    source.write_bytes(Path(path).read_bytes())
    first = model_version_import(project=project, checkpoint=source, note="GPU run 7")
    source.unlink()  # the project keeps its own copy
    assert (first.number, first.status) == (1, "champion")
    assert first.checkpoint == str(tmp_path / "models" / "loop" / "v1" / "model.pt")
    assert first.training_snapshot["note"] == "GPU run 7"
    assert first.metrics["gate"]["reason"] == "no champion yet"
    assert preannotation_requests_process()["done"] == 3
    # With a champion and no frozen reference labels the gate cannot judge: it stays a challenger.
    second = model_version_import(project=project, checkpoint=first.checkpoint)
    assert second.status == "challenger" and "promote by hand" in second.metrics["gate"]["reason"]
    forced = model_version_import(project=project, checkpoint=first.checkpoint, promote=True)
    assert forced.status == "champion" and ModelVersion.objects.filter(status="champion").get() == forced


def test_importing_a_foreign_file_or_into_a_missing_project_fails_clearly(project, tmp_path, settings):
    settings.MODELS_DIR = tmp_path / "models"
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ApplicationError) as caught:
        model_version_import(project=project, checkpoint=tmp_path / "bad.pt")
    assert caught.value.code == "bad_checkpoint"
    assert not ModelVersion.objects.exists() and not (tmp_path / "models").exists()
    with pytest.raises(CommandError, match="Not a model checkpoint"):
        call_command("model_import", "loop", str(tmp_path / "bad.pt"))
    with pytest.raises(CommandError, match="No project 'nope'"):
        call_command("model_import", "nope", str(tmp_path / "bad.pt"))


def test_the_import_command_can_leave_the_version_to_an_admin(project, checkpoint, tmp_path, settings):
    _, path = checkpoint
    settings.MODELS_DIR = tmp_path / "models"
    out = io.StringIO()
    call_command("model_import", "loop", path, "--no-gate", stdout=out)
    assert out.getvalue().strip() == "loop-v1: challenger"
    assert ModelVersion.objects.get().status == "challenger"


def test_a_trusted_champion_places_level_lines_over_the_finder_but_not_on_blinded_cases(project, checkpoint):
    _, path = checkpoint
    poor = model_version_register(project=project, checkpoint=path)
    poor.metrics = {**poor.metrics, "test": {"detection": {"level_recall_iou50": 0.5}}}
    poor.save()
    model_version_promote(version=poor)
    preannotation_requests_process()
    assert not LevelPosition.objects.filter(source="model").exists(), (
        "a poor detector must not move the lines"
    )

    trusted = model_version_register(project=project, checkpoint=path)
    trusted.metrics = {**trusted.metrics, "test": {"detection": {"level_recall_iou50": 1.0}}}
    trusted.save()
    model_version_promote(version=trusted)
    preannotation_requests_process()
    case = Case.objects.select_related("pair").first()
    ct = case.pair.ct_study
    placed = LevelPosition.objects.filter(study=ct, source="model", model_version=trusted.label)
    assert placed.count() >= 1
    for position in placed:
        prediction = LevelPrediction.objects.get(model_version=trusted, study=ct, level=position.level)
        assert prediction.box_score > 0 and position.canal is not None
        finder = LevelPosition.objects.filter(study=ct, source="finder", level=position.level).first()
        if finder is not None:  # the disc keeps the finder's offset from the canal, and its plane
            assert position.normal == finder.normal
            assert abs((position.centre[1] - position.canal[1]) - (finder.centre[1] - finder.canal[1])) < 0.01

    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    level = placed.first().level
    shown = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"]
    ct_shown = {p["level"]: p for p in shown if p.get("ct_position")}
    assert ct_shown[level]["ct_position"]["source"] == "model"
    case.blinded = True
    case.save()
    shown = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"]
    assert all((p.get("ct_position") or {}).get("source") != "model" for p in shown)

    # Once the poor version is champion again, the retired one's lines are history, not shown nor trained on.
    case.blinded = False
    case.save()
    poor.refresh_from_db()
    model_version_rollback(project=project, version=poor)
    shown = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]["levels"]
    assert all((p.get("ct_position") or {}).get("source") != "model" for p in shown)
    assert placed.count() >= 1, "the retired version's rows stay as history"
    assert level_positions_for_training(study_ids=[ct.pk], model_version=poor.label) == {}
    trained_on = level_positions_for_training(study_ids=[ct.pk], model_version=trusted.label)
    assert trained_on[ct.pk][level][1] == "model"
