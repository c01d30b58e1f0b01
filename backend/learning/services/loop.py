"""What the learning loop does when readers submit and when suggestions are refreshed."""

from django.db import transaction

from backend.imaging.models import PreAnnotationRequest
from backend.learning.models import KappaSnapshot, ModelVersion
from backend.learning.services.agreement import kappa_snapshot_maybe, kappa_snapshot_take
from backend.learning.services.consensus import reference_labels_update
from backend.learning.services.priorities import case_priorities_update
from backend.learning.services.registry import preannotation_requests_process
from backend.learning.services.training import training_run_maybe_start
from backend.learning.signals import reference_labels_updated
from backend.projects.models import Project


def project_labels_submitted(*, project: Project, queue_training: bool = True) -> dict:
    """After submitted readings: reference labels, disagreements, agreement, maybe a training."""
    labels = reference_labels_update(project=project)
    reference_labels_updated.send(sender=Project, project=project)
    snapshot_rows = kappa_snapshot_maybe(project=project)
    run = training_run_maybe_start(project=project, queue=queue_training)
    return {**labels, "kappa_rows": snapshot_rows, "training_run": run.pk if run else None}


def project_suggestions_refreshed(*, project: Project) -> dict:
    """Once the champion has read every study: new priorities and the version's first agreement figures."""
    pending = PreAnnotationRequest.objects.filter(
        study__projects=project, status=PreAnnotationRequest.Status.PENDING
    ).exists()
    if pending:
        return {"waiting": True}
    ranked = case_priorities_update(project=project)
    rows = 0
    with transaction.atomic():  # the champion's row lock: two passes at once take its figures once
        champion = (
            project.model_versions.select_for_update().filter(status=ModelVersion.Status.CHAMPION).first()
        )
        if (
            champion is not None
            and not champion.kappasnapshot_set.filter(trigger=KappaSnapshot.Trigger.MODEL_VERSION).exists()
        ):
            rows = kappa_snapshot_take(
                project=project, trigger=KappaSnapshot.Trigger.MODEL_VERSION, model_version=champion
            )
    return {"ranked": ranked, "kappa_rows": rows}


def preannotation_cycle() -> dict:
    """The scheduled pre-annotation pass, then the follow-up for every project it served."""
    result = preannotation_requests_process()
    for project in Project.objects.filter(pk__in=result.pop("project_ids", [])):
        project_suggestions_refreshed(project=project)
    return result
