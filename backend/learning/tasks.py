from celery import shared_task

from backend.learning.services import preannotation_requests_process


@shared_task(name="learning.preannotate_pending", acks_late=True)
def preannotate_pending() -> dict:
    """Suggestions for new CT studies (and for all of a project's after a promotion)."""
    return preannotation_requests_process()
