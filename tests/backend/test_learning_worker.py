"""The learning loop on real Celery workers: pre-annotation, triggered training, the gate, a killed worker."""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.demo.simulation import manifest_levels
from backend.imaging.models import IngestJob, PreAnnotationRequest
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import LevelPrediction, ModelVersion, TrainingRun
from backend.learning.services import (
    model_version_promote,
    model_version_register,
    reference_labels_update,
    training_run_execute,
    training_run_start,
    training_runs_resend_lost,
)
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend.concurrency import celery_worker_idle_wait
from tests.backend.factories import ReaderFactory
from tests.conftest import start_celery_worker, stop_celery_worker, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _ingest(project, cohort):
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(cohort.rglob("*.dcm")),
    )


def _settled(project) -> bool:
    pending = PreAnnotationRequest.objects.filter(study__projects=project, status="pending").exists()
    return (
        not pending
        and not TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE).exists()
    )


def test_submissions_train_a_challenger_on_the_worker_and_the_gate_decides(
    loop_cohort, loop_checkpoint, celery_worker_process
):
    project = project_create(
        name="Live",
        slug="live",
        blinded_share=0.0,
        reference_share=0.25,
        retrain_threshold=30,
        training_preset="smoke",
    )
    first = model_version_promote(version=model_version_register(project=project, checkpoint=loop_checkpoint))
    _ingest(project, loop_cohort)  # cases appear, and the worker pre-annotates the new CT studies
    wait_for(
        lambda: LevelPrediction.objects.filter(model_version=first).count() == 6 * 8,
        timeout=120,
        what="the champion's suggestions on 8 studies",
    )
    assert Case.objects.filter(project=project).count() == 8

    senior = ReaderFactory(experience="senior")
    project_member_add(project=project, user=senior.user)
    client = APIClient()
    client.force_authenticate(senior.user)
    truth = manifest_levels(cohort_dir=loop_cohort)
    case_id = client.get("/api/reading/worklist/").json()["next_case"]
    while case_id is not None:
        patient = Case.objects.select_related("pair__patient").get(pk=case_id).pair.patient.patient_id
        for level in LEVELS:
            body = {"grade": truth[patient][level]["grade"], "box": truth[patient][level]["roi_sagittal"]}
            assert client.put(
                f"/api/reading/cases/{case_id}/levels/{level.replace('/', '-')}/", body, format="json"
            ).status_code in (200, 201)
        submitted = client.post(f"/api/reading/cases/{case_id}/submit/", {"time_spent_s": 30}, format="json")
        assert submitted.status_code == 200, submitted.content
        case_id = submitted.json()["next_case"]

    run = wait_for(
        lambda: TrainingRun.objects.filter(project=project, status="succeeded").first(),
        timeout=240,
        what="a training started by the submissions",
    )
    assert run.trigger == "threshold" and run.labels_used >= project.retrain_threshold
    wait_for(lambda: _settled(project), timeout=240, what="the loop to settle")
    second = ModelVersion.objects.get(pk=run.model_version_id)
    gate = second.metrics["gate"]
    assert gate["champion"]["label"] == first.label and second.metrics["reference"]["n"] > 0
    assert second.status == ("champion" if gate["promoted"] else "challenger")

    admin = APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    if second.status != "champion":
        assert (
            admin.post(f"/api/learning/projects/live/model-versions/{second.number}/promote/").status_code
            == 200
        )
    back = admin.post("/api/learning/projects/live/rollback/")
    assert back.status_code == 200 and back.json()["label"] == first.label
    second.refresh_from_db()
    assert second.status == "retired"
    wait_for(lambda: _settled(project), timeout=120, what="pre-annotation after the rollback")


def test_a_worker_killed_mid_training_leaves_the_version_failed_and_the_run_retryable(
    loop_cohort, loop_checkpoint, media_root, tmp_path, settings
):
    settings.TRAINING_QUEUE = f"training-kill-{os.getpid()}"  # this test's own worker, nobody else's
    project = project_create(
        name="Kill", slug="kill", blinded_share=0.0, reference_share=0.0, training_preset="default"
    )
    champion = model_version_promote(
        version=model_version_register(project=project, checkpoint=loop_checkpoint)
    )
    _ingest(project, loop_cohort)
    senior = ReaderFactory(experience="senior")
    project_member_add(project=project, user=senior.user)
    truth = manifest_levels(cohort_dir=loop_cohort)
    for case in Case.objects.filter(project=project).select_related("pair__patient"):
        assignment = assignment_open(case=case, reader=senior.user)
        for level in LEVELS:
            level_truth = truth[case.pair.patient.patient_id][level]
            level_annotation_save(
                assignment=assignment,
                level=level,
                user=senior.user,
                version=None,
                grade=level_truth["grade"],
                box=level_truth["roi_sagittal"],
            )
        assignment_submit(assignment=assignment, user=senior.user, notify_learning=False)
    reference_labels_update(project=project)

    hostname = f"kill-{os.getpid()}@test"
    env = worker_env(media_root)
    worker = start_celery_worker(
        hostname=hostname, queues=settings.TRAINING_QUEUE, log_path=tmp_path / "w1.log", env=env
    )
    try:
        run = training_run_start(project=project)
        wait_for(
            lambda: TrainingRun.objects.filter(pk=run.pk, progress__stage="detector").exists(),
            timeout=120,
            what="the training to be under way",
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        run.refresh_from_db()
        assert run.status == "running", "nobody could tell yet"
        assert run.model_version.status == "training"
    finally:
        if worker.poll() is None:
            worker.kill()

    worker = start_celery_worker(
        hostname=hostname, queues=settings.TRAINING_QUEUE, log_path=tmp_path / "w2.log", env=env
    )
    try:
        run.refresh_from_db()
        assert run.status == "failed" and hostname in run.error, (
            "the restarted worker failed its predecessor's run"
        )
        assert run.model_version.status == "failed"
        champion.refresh_from_db()
        assert champion.status == "champion" and project.model_versions.filter(status="champion").count() == 1

        project.training_preset = "smoke"
        project.save()
        admin = APIClient()
        admin.force_authenticate(ReaderFactory(role="admin").user)
        retried = admin.post(f"/api/learning/projects/kill/training-runs/{run.pk}/retry/")
        assert retried.status_code == 202 and retried.json()["retry_of"] == run.pk
        done = wait_for(
            lambda: TrainingRun.objects.filter(
                pk=retried.json()["id"], status__in=["succeeded", "failed"]
            ).first(),
            timeout=180,
            what="the retried training",
        )
        assert done.status == "succeeded", done.error
        assert done.model_version.status in ("champion", "challenger")
    finally:
        stop_celery_worker(worker)


def test_a_training_whose_task_was_lost_is_sent_again_and_runs(celery_worker_process):
    celery_worker_idle_wait()  # an earlier test's passes must not hold the shared worker past the timeout
    project = project_create(name="Lost", slug="lost", blinded_share=0.0, reference_share=0.0)
    lost = training_run_start(project=project, queue=False)  # its message never reached a worker
    assert training_runs_resend_lost(resend_after_s=3600) == 0, "not yet overdue"
    TrainingRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert training_runs_resend_lost(resend_after_s=3600) == 1
    assert training_runs_resend_lost(resend_after_s=3600) == 0, "just sent: not again"
    ran = wait_for(
        lambda: TrainingRun.objects.filter(pk=lost.pk, status__in=["succeeded", "failed"]).first(),
        timeout=60,
        what="the worker to run the resent training",
    )
    assert ran.sent_at is not None and ran.worker.startswith("test-")
    assert ran.status == "failed" and "at least 3 read studies" in ran.error  # it ran: this project has none
    # Only queued runs are sent again, and a duplicate message arriving late leaves the run alone.
    TrainingRun.objects.filter(pk=lost.pk).update(sent_at=timezone.now() - timedelta(hours=2))
    assert training_runs_resend_lost(resend_after_s=3600) == 0
    assert training_run_execute(run_id=lost.pk).finished_at == ran.finished_at
