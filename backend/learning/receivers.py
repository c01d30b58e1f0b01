"""The learning app's answers to what lower apps announce; connected in LearningConfig.ready()."""

from django.db import transaction

from backend.common.tasks import task_send
from backend.imaging.models import IngestJob
from backend.learning.services import preannotation_wake
from backend.learning.services.levels import study_levels_find_after_ingest
from backend.learning.tasks import labels_submitted
from backend.reading.models import Assignment


def preannotation_wake_after_ingest(*, job: IngestJob, **kwargs) -> None:
    """New instances stored: pre-annotate the pending CT studies once the ingest commits."""
    if job.stored:
        transaction.on_commit(preannotation_wake)


def labels_submitted_queue(*, assignment: Assignment, **kwargs) -> None:
    """A submitted reading: consensus, adjudication, agreement and maybe a training, on a worker after commit."""
    project_id = assignment.case.project_id
    transaction.on_commit(lambda: task_send(labels_submitted, project_id))


def labels_submitted_queue_after_import(*, project, **kwargs) -> None:
    """Imported readings: the same consensus, agreement and maybe a training, after commit."""
    transaction.on_commit(lambda: task_send(labels_submitted, project.pk))


def levels_find_after_ingest(*, job: IngestJob, **kwargs) -> None:
    """New studies get their levels placed by the model-free finder as part of their ingest (a tenth of
    a second per study; a study it cannot read is logged, never fails the job): readers see level
    lines before any model exists."""
    if job.stored:
        study_levels_find_after_ingest(job=job)
