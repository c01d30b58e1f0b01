"""Shared fixtures: the configured services, a real Celery worker process, a real browser.

REQUIRE_SERVICES=1 turns a missing PostgreSQL/Redis into a failure; REQUIRE_BROWSER=1 does the
same for Chromium. Without them, the suite runs on SQLite and the file-system broker.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not env_flag("REQUIRE_SERVICES"):
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(f"REQUIRE_SERVICES=1 but the database is {engine}; set DATABASE_URL.", returncode=3)
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.exit("REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not Redis.", returncode=3)
    import psycopg2
    import redis

    db = settings.DATABASES["default"]
    try:
        psycopg2.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", connect_timeout=5
        ).close()
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=5).ping()
    except Exception as exc:
        pytest.exit(f"REQUIRE_SERVICES=1 but a service is unreachable: {exc}", returncode=3)


def database_url_of_test_db() -> str:
    from django.db import connection

    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    user = cfg["USER"] or ""
    password = f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else ""
    return f"postgres://{user}{password}@{cfg['HOST']}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def media_root(tmp_path_factory):
    """Stored DICOM and uploads of the whole session go to a temporary folder (shared with the worker)."""
    from django.test import override_settings

    root = tmp_path_factory.mktemp("media")
    (root / "tmp").mkdir()
    with override_settings(MEDIA_ROOT=str(root), FILE_UPLOAD_TEMP_DIR=str(root / "tmp")):
        yield root


def start_celery_worker(
    *, hostname: str, queues: str, log_path: Path, env: dict, pool: str = "solo"
) -> subprocess.Popen:
    """A real `celery worker` process (one task at a time, in-process unless `pool` is prefork) on the
    configured broker; returns once it is ready."""
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.celery_worker",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            hostname,
            "-Q",
            queues,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited early:\n{log_path.read_text()}")
        if "ready." in log_path.read_text():
            break
        time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError(f"the Celery worker did not start:\n{log_path.read_text()}")
    return process


def stop_celery_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def worker_env(media_root: Path) -> dict:
    """The worker's environment: the test database and media; every ingest job it runs uses worker
    processes (as large ones do), so that path is exercised inside Celery's own pool."""
    return dict(
        os.environ,
        DATABASE_URL=database_url_of_test_db(),
        PYTHONUNBUFFERED="1",
        MEDIA_ROOT=str(media_root),
        MODELS_DIR=str(media_root / "models"),
        INGEST_PROCESSES="2",
        INGEST_PROCESSES_MIN_FILES="1",
    )


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, media_root):
    """A real `celery worker` process on the configured broker, using the test database."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_celery_worker(
        hostname=f"test-{os.getpid()}@%h",
        queues="celery,training",
        log_path=log_path,
        env=worker_env(media_root),
    )
    yield process
    stop_celery_worker(process)


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """A headless Chromium context (Debian's chromium, driven by Playwright)."""
    executable = chromium_path()
    if executable is None:
        if env_flag("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER=1 but no Chromium was found (apt-get install chromium).")
        pytest.skip("Chromium is not installed; browser tests skipped.")
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls in these
    # tests are still synchronous and safe.
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    yield page
    browser_context.clear_cookies()
    page.close()
