"""Row-lock tests: a transaction held open on another thread while the test does something else."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction


@contextmanager
def held_in_another_transaction(
    hold: Callable[[], object], *, release_after_s: float | None = None
) -> Iterator[None]:
    """Run `hold` in a transaction on another thread and keep that transaction open: for
    `release_after_s` seconds once the with-block starts, or until the block ends. What the block
    does meanwhile meets the locks `hold` took. Needs PostgreSQL (skips elsewhere: SQLite has one
    writer at a time); the test needs `django_db(transaction=True)`."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite has a single writer anyway)")
    held, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert held.wait(10), "the other transaction did not take its locks"
        if release_after_s is not None:
            threading.Timer(release_after_s, release.set).start()
        yield
    finally:
        release.set()
        thread.join()


def celery_worker_idle_wait(*, timeout_s: float = 120) -> None:
    """Drop the tasks still queued and wait until a running worker has finished those it holds, so
    that no pass an earlier test queued runs during this one. Without a worker (or on a broker that
    cannot broadcast, the file-system one) there is nothing to wait for."""
    from backend.config.celery import app

    try:
        app.control.purge()
        inspect = app.control.inspect(timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            held = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
            if not any(held):
                return
            time.sleep(0.5)
    except NotImplementedError:
        return
    raise AssertionError(f"the Celery worker was still busy after {timeout_s} s")
