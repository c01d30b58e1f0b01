"""A new user's first `make run`: how long until the platform answers, and until the demo's first
model is promoted, and how good that model is (quadratic kappa on the demo's frozen reference set).

.venv/bin/python benchmarks/first_run.py                  # install already done (make install)
.venv/bin/python benchmarks/first_run.py --timeout 1200

Runs `make run` itself on the embedded defaults (SQLite, the file-system broker) with its own
VAR_DIR (a fresh one each time) and port, polls /api/health/ and then the demo project's model
versions, and stops everything when a champion exists or the timeout passes. The issue's bars:
health within 60 s, a champion with reference quadratic kappa >= 0.7 within 10 minutes.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VERSIONS = """
import json
from backend.learning.models import ModelVersion
rows = ModelVersion.objects.filter(project__slug="demo").order_by("number")
print(json.dumps([{"number": v.number, "status": v.status, "classifier": v.config.get("classifier"),
    "reference": (v.metrics or {}).get("reference"), "created_at": v.created_at.isoformat(),
    "promoted_at": v.promoted_at and v.promoted_at.isoformat()} for v in rows]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def model_versions(env: dict) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", VERSIONS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    return json.loads(lines[-1]) if lines else []


def stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "benchmarks" / "first-run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for a champion")
    parser.add_argument("--poll", type=float, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    var = args.work / "var"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(var), WEB_PORT=str(port), DEBUG="1")
    log = (args.work / "make-run.log").open("w")
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    result: dict = {"port": port, "log": str(args.work / "make-run.log")}
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise SystemExit(f"make run exited ({process.returncode}); see {result['log']}")
            if time.monotonic() - started > args.timeout:
                raise SystemExit("no answer from /api/health/ before the timeout")
            time.sleep(0.5)
        result["health_seconds"] = round(time.monotonic() - started, 1)
        print(f"/api/health/ answered 200 after {result['health_seconds']} s", flush=True)
        while time.monotonic() - started < args.timeout:
            versions = model_versions(env)
            champion = next((v for v in versions if v["status"] == "champion"), None)
            states = ", ".join(f"v{v['number']} {v['status']}" for v in versions) or "no version yet"
            print(f"{time.monotonic() - started:7.0f} s  {states}", flush=True)
            if champion:
                result["champion_seconds"] = round(time.monotonic() - started, 1)
                result["champion"] = champion
                break
            time.sleep(args.poll)
    finally:
        stop(process)
        log.close()
    champion = result.get("champion")
    if champion:
        reference = champion["reference"] or {}
        print(
            f"first champion v{champion['number']} ({champion['classifier']}) after {result['champion_seconds']} s:"
            f" reference-set quadratic kappa {reference.get('kappa_quadratic')} on {reference.get('n')} levels"
        )
    else:
        print(f"no champion within {args.timeout:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
