"""Load: 200 readers at once against gunicorn + PostgreSQL + Redis + a real Celery worker.

pip install -r requirements-bench.txt   # locust
.venv/bin/python benchmarks/load.py                          # 200 readers, 2 minutes
.venv/bin/python benchmarks/load.py --users 50 --run-time 30s  # a quicker look

Sets up a fresh PostgreSQL database (--database-url, default spine_load on 127.0.0.1), a synthetic
cohort of --patients CT/MR pairs ingested into one project, --users readers with API tokens; starts
gunicorn (--workers) and a Celery worker on Redis (--broker-url), then runs the scenario of
benchmarks/locustfile.py headless (open the worklist, open the next case, save six levels, submit)
and prints per request: count, failures, median, p95 and requests per second; then what the worker
did meanwhile (submissions it processed). Everything it started is stopped at the end.
"""

import argparse
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _set_up(*, tmp: Path, patients: int, users: int) -> Path:
    """Migrate, ingest the cohort, make the readers; returns the tokens file."""
    import django

    django.setup()
    from django.core.management import call_command

    from backend.accounts.models import Role
    from backend.accounts.services import reader_create, user_token_get_or_create
    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.projects.services import project_create, project_member_add
    from ml.synthetic import CohortConfig, generate_cohort

    call_command("migrate", verbosity=0)
    generate_cohort(CohortConfig(out=tmp / "cohort", patients=patients, seed=3, image_size=64))
    project = project_create(name="Load", slug="load", blinded_share=0.2)
    job = ingest_job_create(source=IngestJob.Source.FOLDER, project=project)
    ingest_job_run(job=job, paths=sorted((tmp / "cohort").rglob("*.dcm")))
    tokens = []
    for k in range(users):
        profile = reader_create(
            username=f"load-reader-{k:03d}",
            password=secrets.token_urlsafe(16),
            experience="senior" if k % 4 == 0 else "junior",
            role=Role.READER,
        )
        project_member_add(project=project, user=profile.user)
        tokens.append(user_token_get_or_create(user=profile.user))
    path = tmp / "tokens.json"
    path.write_text(json.dumps(tokens))
    print(f"set up: {project.cases.count()} cases, {users} readers", flush=True)
    return path


def _wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/health/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not answer /api/health/ with 200 within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--run-time", default="120s")
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (4 threads each)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/spine_load")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="spine-load-"))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="backend.config.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL=args.broker_url,
        MEDIA_ROOT=str(tmp / "media"),
        VAR_DIR=str(tmp / "var"),
        DJANGO_LOG_LEVEL="WARNING",
    )
    _recreate_database(args.database_url)
    os.environ.update(env)
    tokens = _set_up(tmp=tmp, patients=args.patients, users=args.users)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    logs = {name: (tmp / f"{name}.log").open("w") for name in ("gunicorn", "worker", "locust")}
    started = [
        subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "backend.config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                "4",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["gunicorn"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                str(bin_dir / "celery"),
                "-A",
                "backend.config",
                "worker",
                "-Q",
                "celery,training",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--hostname",
                f"load-{port}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        _wait_healthy(url)
        print(f"running {args.users} readers for {args.run_time} against {url} ...", flush=True)
        subprocess.run(
            [
                str(bin_dir / "locust"),
                "-f",
                str(ROOT / "benchmarks" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                args.run_time,
                "--host",
                url,
                "--csv",
                str(tmp / "locust"),
                "--only-summary",
            ],
            cwd=ROOT,
            env={**env, "LOAD_TOKENS": str(tokens)},
            stdout=logs["locust"],
            stderr=subprocess.STDOUT,
            check=False,
        )
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = list(csv.DictReader((tmp / "locust_stats.csv").open()))
    print(f"{'request':<14} {'count':>7} {'fail':>6} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}")
    for row in rows:
        print(
            f"{row['Name']:<14} {row['Request Count']:>7} {row['Failure Count']:>6} "
            f"{row['50%']:>8} {row['95%']:>8} {float(row['Requests/s']):>7.1f}"
        )
    from backend.reading.models import Assignment

    submitted = Assignment.objects.filter(status=Assignment.Status.SUBMITTED).count()
    finished = (tmp / "worker.log").read_text().count(" succeeded in ")
    print(f"submitted readings: {submitted}; tasks the worker finished: {finished}")
    failures = tmp / "locust_failures.csv"
    if failures.exists() and len(failures.read_text().splitlines()) > 1:
        print("failures:\n" + failures.read_text()[:3000])
    if args.json:
        args.json.write_text(
            json.dumps({"users": args.users, "run_time": args.run_time, "stats": rows}, indent=1)
        )
    print(f"logs in {tmp}")


if __name__ == "__main__":
    main()
