"""Workers and queues: the platform health checks plus how many tasks wait on each queue."""

from celery import current_app as celery_app  # backend.config.celery's app (config is above the apps)
from django.conf import settings

from backend.common.selectors import health_status


def _queue_names() -> list[str]:
    return [celery_app.conf.task_default_queue, settings.TRAINING_QUEUE]


def queue_lengths() -> list[dict]:
    """Tasks waiting per queue (Redis: the list lengths; the file-system broker: its files)."""
    out = []
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT)
        with conn.channel() as channel:
            for name in _queue_names():
                out.append(
                    {"name": name, "waiting": channel.queue_declare(queue=name, passive=False).message_count}
                )
    return out


def workers_health() -> dict:
    report = health_status()
    body = report.as_dict()
    queues: list[dict] = []
    queue_error = ""
    if report.broker.ok:
        try:
            queues = queue_lengths()
        except Exception as exc:  # the broker went away between the two checks
            queue_error = f"{type(exc).__name__}: {exc}"
    else:
        queue_error = "broker unreachable"
    transport = str(settings.CELERY_BROKER_URL).split(":", 1)[0]
    return {
        **body,
        "transport": transport,
        "workers": report.worker.workers,
        "queues": queues,
        "queue_error": queue_error,
    }
