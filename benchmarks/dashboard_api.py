"""Dashboard API benchmark on PostgreSQL: 10k level annotations, 50 model versions, kappa snapshots.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/spine_bench .venv/bin/python benchmarks/dashboard_api.py
.venv/bin/python benchmarks/dashboard_api.py --cases 1200 --runs 100   # twice the data, more runs

The database is created when missing and migrated; the project `dash-bench` is (re)seeded with
bulk_create (tests/backend/dashboard_data.py): --cases cases, a fifth in the reference set read by all
six readers, the others by two (600 cases -> about 10k submitted levels), --versions model versions with
reference metrics and heavy training snapshots, a training run each, kappa snapshots every ~10
readings. Every dashboard endpoint is then requested --runs times through Django's test client as an
admin (the whole request: middleware, auth, view, JSON), after warm-up; printed per endpoint: median
and p95 in ms, the SQL queries of one request, and the response size. Goal: p95 < 200 ms on each.
The workers endpoint is timed apart: it waits on the broker and a Celery worker's ping, not the database.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/spine_bench"
SLUG = "dash-bench"
ENDPOINTS = [
    "summary",
    "labeling-progress",
    "grade-distribution",
    "kappa-timeline",
    "kappa-timeline?kind=reader_reader&kind=model_reader",
    "kappa-by-subset",
    "confusion-matrix",
    "model-registry",
    "label-efficiency",
    "adjudication-summary",
    "reader-performance",
]


def ensure_database(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    conn = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    conn.close()


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)


def seed(args) -> dict:
    from django.contrib.auth import get_user_model

    from backend.imaging.models import Patient, Study
    from backend.projects.models import Project
    from tests.backend.dashboard_data import seed_dashboard_project

    started = time.perf_counter()
    Project.objects.filter(slug=SLUG).delete()
    Study.objects.filter(patient__patient_id__startswith=f"{SLUG}-").delete()
    Patient.objects.filter(patient_id__startswith=f"{SLUG}-").delete()
    get_user_model().objects.filter(username__startswith=f"{SLUG}-").delete()
    readings = args.cases * (0.2 * 6 + 0.8 * 2)
    data = seed_dashboard_project(
        slug=SLUG,
        cases=args.cases,
        reads_per_case=2,
        readers=6,
        versions=args.versions,
        kappa_batches=max(1, round(readings / 10)),
        days=60,
    )
    print(
        f"seeded in {time.perf_counter() - started:.1f} s: {data.cases} cases, {data.readings} readings, "
        f"{data.levels} level annotations, {data.versions} model versions, {data.snapshots} kappa snapshots"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"levels": data.levels}


def admin_client():
    from django.test import Client

    from backend.accounts.services import reader_ensure

    profile, _ = reader_ensure(
        username=f"{SLUG}-admin", password="bench-pass-123456", experience="senior", role="admin"
    )
    client = Client()
    client.force_login(profile.user)
    return client


def measure(client, path: str, runs: int) -> dict:
    from django.db import connection

    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
    queries = []  # an execute wrapper: a request resets connection.queries, so CaptureQueriesContext sees none

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(path)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "median": statistics.median(times),
        "p95": p95,
        "queries": len(queries),
        "kb": len(response.content) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=600, help="600 cases: about 10k level annotations")
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--goal-ms", type=float, default=200.0)
    parser.add_argument("--no-seed", action="store_true", help="keep the data of the last run")
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL for this benchmark.")
    ensure_database(url)
    setup_django()
    if not args.no_seed:
        seed(args)
    client = admin_client()
    print(f"\n{'endpoint':<62} {'median ms':>9} {'p95 ms':>8} {'queries':>7} {'KB':>7}")
    worst = 0.0
    for endpoint in ENDPOINTS:
        name, _, query = endpoint.partition("?")
        path = f"/api/dashboard/projects/{SLUG}/{name}/" + (f"?{query}" if query else "")
        figures = measure(client, path, args.runs)
        worst = max(worst, figures["p95"])
        print(
            f"{path:<62} {figures['median']:>9.1f} {figures['p95']:>8.1f} {figures['queries']:>7} {figures['kb']:>7.1f}"
        )
    workers = measure(client, "/api/dashboard/workers/", 5)
    print(
        f"{'/api/dashboard/workers/ (broker + worker ping, 5 runs)':<62} {workers['median']:>9.1f} "
        f"{workers['p95']:>8.1f} {workers['queries']:>7} {workers['kb']:>7.1f}"
    )
    verdict = "met" if worst < args.goal_ms else "MISSED"
    print(
        f"\nworst p95 of the database-bound endpoints: {worst:.1f} ms (goal < {args.goal_ms:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
