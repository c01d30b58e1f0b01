"""Reads about the platform itself: is the database, the broker and a worker reachable."""

import time
from dataclasses import asdict, dataclass, field

from celery import current_app as celery_app  # backend.config.celery's app (config is above the apps)
from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    detail: str = ""
    workers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HealthReport:
    database: CheckResult
    broker: CheckResult
    worker: CheckResult

    @property
    def ok(self) -> bool:
        return self.database.ok and self.broker.ok and self.worker.ok

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "unavailable",
            "checks": {
                "database": asdict(self.database),
                "broker": asdict(self.broker),
                "worker": asdict(self.worker),
            },
        }


def _timed(check) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, workers = check()
        ok = True
    except Exception as exc:  # any failure of an outside service is a failed check
        detail, workers, ok = f"{type(exc).__name__}: {exc}", [], False
    return CheckResult(
        ok=ok,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        detail=detail,
        workers=workers,
    )


def _check_database() -> tuple[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor, []


def _check_broker() -> tuple[str, list[str]]:
    # Declaring the default queue is a real round trip on every transport (a bare connect is
    # lazy on Redis), and it tells how many tasks are waiting.
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT)
        with conn.channel() as channel:
            declared = channel.queue_declare(queue=celery_app.conf.task_default_queue, passive=False)
        return f"{conn.transport.driver_name}, {declared.message_count} task(s) waiting", []


def _check_worker() -> tuple[str, list[str]]:
    replies = celery_app.control.ping(timeout=settings.HEALTH_CHECK_TIMEOUT, limit=1)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no Celery worker answered the ping")
    return "a worker answered", workers


def health_status() -> HealthReport:
    database = _timed(_check_database)
    broker = _timed(_check_broker)
    if broker.ok:
        worker = _timed(_check_worker)
    else:
        worker = CheckResult(ok=False, latency_ms=0.0, detail="broker unreachable")
    return HealthReport(database=database, broker=broker, worker=worker)
