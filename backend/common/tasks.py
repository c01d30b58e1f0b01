from celery import shared_task


@shared_task(name="common.ping")
def ping(payload: str = "pong") -> str:
    """Echo: proves that a worker takes tasks from the broker and stores results."""
    return payload
