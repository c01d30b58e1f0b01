"""`celery worker` as the tests run it: the same app, plus one thing only the tests need.

A transactional test ends with a flush of the test database, and the content types made again
after it get new ids; a worker that outlives the flush would write audit entries with the old
ones (a foreign-key violation that fails the task). So each task starts with no cached ids.
"""

import sys

from celery.signals import task_prerun

from backend.config.celery import app


@task_prerun.connect
def _forget_content_type_ids(**_) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
