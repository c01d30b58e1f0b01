"""`celery worker` as the tests run it: the same app, plus what only the tests need.

A transactional test ends with a flush of the test database, and the content types made again
after it get new ids; a worker that outlives the flush would write audit entries with the old
ones (a foreign-key violation that fails the task). So each task starts with no cached ids.
"""

import os
import sys
import time
from pathlib import Path

from celery.signals import task_prerun

from backend.config.celery import app


@task_prerun.connect
def _forget_content_type_ids(**_) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


@app.task(name="tests.note_and_sleep")
def note_and_sleep(path: str, seconds: float) -> int:
    """Appends its process id to `path`; the first run then sleeps (to be killed), a later one ends
    at once and writes "done". Shows whether a task whose worker died is delivered again."""
    notes = Path(path)
    first = not notes.exists()
    with notes.open("a") as out:
        out.write(f"{os.getpid()}\n")
    if first:
        time.sleep(seconds)
    with notes.open("a") as out:
        out.write("done\n")
    return os.getpid()


if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
