"""Celery tasks of the learning loop: they take ids and call a service."""

from celery import shared_task

from backend.learning import services
from backend.projects.models import Project


@shared_task(name="learning.preannotate_pending")
def preannotate_pending() -> dict:
    """Suggestions for new CT studies (and for all of a project's after a promotion), then new priorities."""
    return services.preannotation_cycle()


@shared_task(name="learning.labels_submitted")
def labels_submitted(project_id: int) -> dict:
    """After a reader submits: consensus, adjudication queue, agreement snapshot, maybe a training."""
    return services.project_labels_submitted(project=Project.objects.get(pk=project_id))


# Acknowledged on receipt: a worker killed mid-training must not silently start it again an hour
# later; the run is marked failed (training_runs_reap) and retried on purpose.
@shared_task(bind=True, name="learning.train_model", acks_late=False)
def train_model(self, run_id: int) -> dict:
    run = services.training_run_execute(run_id=run_id, worker=self.request.hostname or "")
    return {"run": run.pk, "status": run.status, "model_version": run.model_version_id}


@shared_task(name="learning.retrain_scheduled")
def retrain_scheduled() -> list[int]:
    """The nightly retraining of every project with new labels."""
    return [run.pk for run in services.training_runs_start_scheduled()]


@shared_task(name="learning.reap_stale_trainings")
def reap_stale_trainings() -> dict:
    """Trainings whose worker went silent end as failed, so they can be retried; trainings whose
    task message was lost are sent again."""
    return {"failed": services.training_runs_reap(), "resent": services.training_runs_resend_lost()}
