import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="common.ping")
def ping(payload: str = "pong") -> str:
    """Echo: proves that a worker takes tasks from the broker and stores results."""
    return payload


def task_send(task, *args, **options) -> bool:
    """Queue a Celery task; a broker that is down is logged, not raised (schedules catch up later)."""
    try:
        task.apply_async(args, **options)
        return True
    except Exception:
        logger.exception("could not queue %s", task.name)
        return False
