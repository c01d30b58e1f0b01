import logging

from celery import Task, current_app, shared_task

logger = logging.getLogger(__name__)


@shared_task(name="common.ping")
def ping(payload: str = "pong") -> str:
    """Echo: proves that a worker takes tasks from the broker and stores results."""
    return payload


def task_send(task: Task | str, *args, **options) -> bool:
    """Queue a Celery task, given as the task or by its registered name (a service that queues a task
    whose function calls it back names it, so the two modules do not import each other); a broker
    that is down is logged, not raised (schedules catch up later)."""
    name = task if isinstance(task, str) else task.name
    try:
        if isinstance(task, str):
            current_app.send_task(name, args=args, **options)
        else:
            task.apply_async(args, **options)
        return True
    except Exception:
        logger.exception("could not queue %s", name)
        return False
