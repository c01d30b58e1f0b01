"""Celery tasks of the exports app: they take ids and call a service."""

from celery import shared_task
from django.conf import settings

from backend.exports import push
from backend.imaging.dicom.network import PacsError


@shared_task(bind=True, name=push.PUSH_TASK, max_retries=None)
def result_push(self, push_id: int) -> dict:
    """Send one reading's SR; on a refusal or no answer, again later (doubling waits), then give up."""
    try:
        sent = push.result_push_attempt(push_id=push_id)
    except PacsError as exc:
        if self.request.retries >= settings.RESULTS_PUSH_RETRIES:
            push.result_push_give_up(push_id=push_id)
            return {"push": push_id, "status": "failed", "error": str(exc)}
        wait = min(settings.RESULTS_PUSH_BACKOFF_S * 2**self.request.retries, 3600)
        raise self.retry(exc=exc, countdown=wait) from exc
    return {"push": push_id, "status": sent.status}
