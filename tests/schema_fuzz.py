"""Schemathesis against /api/schema/ of a live server, as a project's admin and as one of its readers.

    .venv/bin/python tests/schema_fuzz.py                    # both roles, 20 examples per operation
    .venv/bin/python tests/schema_fuzz.py --roles reader --examples 5 --seed 3 --workdir var/fuzz

For each role: a throwaway database (PostgreSQL when DATABASE_URL names one, as in CI: a database of
its own on that server, dropped afterwards; SQLite otherwise) is migrated and seeded with the small
platform of tests/backend/permission_data.py; gunicorn serves it with DEBUG off, as in production, on
a free port of 127.0.0.1; `schemathesis run` then tries every operation of the schema with the role's
API token, with the settings of tests/schemathesis.toml: every phase (examples, coverage, fuzzing,
stateful) and every default check (no server error; status, content type, headers and body as the
schema says; data valid by the schema accepted, data it forbids refused; authentication not ignored;
...). Path parameters name the seeded objects, so that operations reach real data rather than 404.
Arguments the script does not know go to `schemathesis run` (e.g. --continue-on-failure).

Exit status 0 only when every run passed; after a failed run the server's log (its tracebacks) is
printed. A run takes about 1.5 minutes per role on two cores.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if not __package__:  # run as a file: the repository root, not tests/ (which has a backend/ too), goes first
    sys.path[0] = str(ROOT)

CONFIG = ROOT / "tests" / "schemathesis.toml"
ROLES = ("reader", "admin")
PATH_PARAMETERS = (
    "slug",
    "case_id",
    "user_id",
    "job_id",
    "pair_id",
    "number",
    "run_id",
    "item_id",
    "study",
    "series",
    "instance",
    "frames",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _database(workdir: Path, role: str):
    """The URL of a fresh database for one run: beside DATABASE_URL's when that is PostgreSQL (named
    after this process, so that runs side by side keep apart; dropped afterwards), else a SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir / 'db.sqlite3'}"
        return
    import psycopg2

    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'spine'}_fuzz_{role}_{os.getpid()}"

    def execute(statement: str) -> None:
        connection = psycopg2.connect(
            host=parsed.hostname,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname="postgres",
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
        connection.close()

    execute(f'DROP DATABASE IF EXISTS "{name}"')
    execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_env(workdir: Path, database_url: str) -> dict:
    """Production settings (DEBUG off) on loopback, with a broker folder of the run's own: nothing runs
    the tasks the API queues, and the health check answers 503 at once (no worker)."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "VAR_DIR": str(workdir / "var"),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "CELERY_BROKER_DIR": str(workdir / "broker"),
        "HEALTH_CHECK_TIMEOUT": "0.2",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def seed(out: Path) -> None:
    """In the seeding process (settings from its environment): migrate, build the platform, and write
    the tokens and ids the run needs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.backend.permission_data import build_world

    call_command("migrate", verbosity=0)
    world = build_world(Path(settings.VAR_DIR) / "world")
    out.write_text(json.dumps({"tokens": world.tokens, "ids": world.ids}))


def _config(*, ids: dict, workdir: Path) -> Path:
    """tests/schemathesis.toml with the seeded objects as path parameters (typed as the schema types
    them) and the structured report asked of the case that has a submitted reading."""
    values = {name: ids[name] if isinstance(ids[name], int) else str(ids[name]) for name in PATH_PARAMETERS}
    table = "\n".join(f'"path.{name}" = {json.dumps(value)}' for name, value in values.items())
    report = (
        '[[operations]]\ninclude-name = "GET /api/exports/cases/{case_id}/sr.dcm"\n'
        f'parameters = {{ "path.case_id" = {ids["read_case_id"]} }}\n'
    )
    path = workdir / "schemathesis.toml"
    path.write_text(f"{CONFIG.read_text()}\n{report}\n[parameters]\n{table}\n")
    return path


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited before it answered")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:  # it answers
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def run_role(role: str, *, examples: int, seed_value: int, workdir: Path, extra: list[str]) -> int:
    started = time.monotonic()
    run_dir = workdir / role
    run_dir.mkdir(parents=True)
    with _database(run_dir, role) as database_url:
        env = _server_env(run_dir, database_url)
        seeded = run_dir / "seed.json"
        subprocess.run(
            [sys.executable, "-m", "tests.schema_fuzz", "--seed-into", str(seeded)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        data = json.loads(seeded.read_text())
        port = _free_port()
        with (run_dir / "server.log").open("w") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "backend.config.wsgi:application",
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    "--error-logfile",
                    "-",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_for(f"http://127.0.0.1:{port}/api/auth/login/", server)
                print(
                    f"--- schemathesis as {role}: {examples} examples per operation, seed {seed_value}",
                    flush=True,
                )
                tokens = data["tokens"]
                variables = {
                    "FUZZ_TOKEN": tokens[role],
                    "FUZZ_LOGOUT_TOKEN": tokens["member"],
                    "FUZZ_SLUG": data["ids"]["slug"],
                }
                schemathesis = Path(sys.executable).with_name("schemathesis")
                result = subprocess.run(
                    [
                        str(schemathesis),
                        "--config-file",
                        str(_config(ids=data["ids"], workdir=run_dir)),
                        "run",
                        f"http://127.0.0.1:{port}/api/schema/",
                        "--max-examples",
                        str(examples),
                        "--seed",
                        str(seed_value),
                        "--report",
                        "junit",
                        "--report-dir",
                        str(run_dir / "report"),
                        *extra,
                    ],
                    cwd=run_dir,
                    env={**os.environ, "PYTHONPATH": str(ROOT), **variables},
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
    if result.returncode != 0:
        print(f"--- the server's log ({run_dir / 'server.log'}):")
        print((run_dir / "server.log").read_text()[-20000:])
    print(f"--- as {role}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=20, help="examples per operation (default 20)")
    parser.add_argument(
        "--roles", default=",".join(ROLES), help="comma-separated: reader, admin (default both)"
    )
    parser.add_argument("--seed", type=int, default=1, help="schemathesis' random seed (default 1)")
    parser.add_argument("--workdir", type=Path, help="keep the databases, logs and reports here")
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    if args.seed_into:
        seed(args.seed_into)
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="schema-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    codes = [
        run_role(role, examples=args.examples, seed_value=args.seed, workdir=workdir, extra=extra)
        for role in args.roles.split(",")
    ]
    if not args.workdir and not any(codes):
        shutil.rmtree(workdir, ignore_errors=True)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
