"""The Celery app: configured from Django settings (CELERY_* names), tasks found per app."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("spine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _fail_trainings_of_a_dead_predecessor(sender, **kwargs) -> None:
    """A worker that (re)starts under a name was not training anything: runs still marked as its own died with it."""
    from backend.learning.services import training_runs_reap

    training_runs_reap(worker=sender.hostname)
