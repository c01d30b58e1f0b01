"""Scale-out: the Procfile and compose run the same processes, every queue has a worker, and a task
whose worker dies is delivered again rather than lost."""

import os
import re
import shlex
import signal
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from backend.config.celery import app as celery_app
from backend.imaging.tasks import ingest_job
from backend.learning.tasks import labels_submitted, preannotate_pending, train_model
from tests.conftest import start_celery_worker, stop_celery_worker, worker_env

ROOT = Path(__file__).resolve().parents[2]


def _argv(command: str | list[str]) -> list[str]:
    """A command's words, ${VAR:-default} read as its default and the virtualenv's bin/ dropped."""
    text = command if isinstance(command, str) else shlex.join(command)
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    return [word.removeprefix(".venv/bin/") for word in shlex.split(text)]


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: _argv(command) for name, command in (line.split(":", 1) for line in lines if line.strip())}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_each_procfile_process_with_the_same_command():
    procfile, services = _procfile(), _compose()["services"]
    assert set(procfile) == {"web", "worker", "training", "beat", "dicom"}
    for name, argv in procfile.items():
        composed = _argv(services[name]["command"])
        assert composed[:2] == argv[:2], name  # the same program on the same app
        if "worker" in argv:
            for option in ("-A", "-Q", "--hostname"):
                assert _option(composed, option) == _option(argv, option), (name, option)
        if name == "dicom":
            assert composed[:3] == argv[:3] == ["python", "manage.py", "dicom_scp"]


def test_every_queue_a_task_is_routed_to_has_a_worker_and_trainings_run_one_at_a_time():
    procfile, services = _procfile(), _compose()["services"]
    routed = {"celery"} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    for workers in (
        [argv for argv in procfile.values() if "worker" in argv],
        [_argv(s["command"]) for s in services.values() if "worker" in _argv(s.get("command", ""))],
    ):
        served = {queue for argv in workers for queue in _option(argv, "-Q").split(",")}
        assert routed <= served
        training = [argv for argv in workers if "training" in _option(argv, "-Q").split(",")]
        assert [_option(argv, "--concurrency") for argv in training] == ["1"]
        assert all(_option(argv, "-Q") == "training" for argv in training), "a training never blocks ingest"


def test_workers_scale_out_on_shared_media_and_the_training_worker_can_take_a_gpu():
    compose = _compose()
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker, "--scale worker=N needs neither"
    for name in ("web", "worker", "training", "beat", "dicom"):
        assert "media:/data/media" in services[name]["volumes"], name
        assert services[name]["environment"]["MEDIA_ROOT"] == "/data/media"
    assert "CUDA_VISIBLE_DEVICES" in services["training"]["environment"]
    gpu = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())["services"]["training"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]


def test_tasks_are_acknowledged_when_they_end_except_a_training():
    assert celery_app.conf.task_acks_late and celery_app.conf.task_reject_on_worker_lost
    assert celery_app.conf.worker_prefetch_multiplier == 1
    assert not train_model.acks_late, "a killed training is reaped and retried on purpose"
    assert ingest_job.acks_late and labels_submitted.acks_late and preannotate_pending.acks_late
    if not settings.CELERY_BROKER_URL.startswith("filesystem:"):
        timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        assert timeout > settings.CELERY_TASK_TIME_LIMIT, "Redis would hand a running task to a second worker"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the worker stores task results in the test database
def test_a_task_whose_worker_process_dies_is_delivered_again(tmp_path, media_root):
    queue = f"lost-worker-{os.getpid()}"
    worker = start_celery_worker(
        hostname=f"lost-{os.getpid()}@%h",
        queues=queue,
        log_path=tmp_path / "worker.log",
        env=worker_env(media_root),
        pool="prefork",
    )
    notes = tmp_path / "notes.txt"
    try:
        celery_app.send_task("tests.note_and_sleep", args=[str(notes), 60.0], queue=queue)
        deadline = time.monotonic() + 60
        while not notes.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        first_run = int(notes.read_text().split()[0])
        os.kill(first_run, signal.SIGKILL)  # the pool process dies mid-task, as in an OOM kill
        deadline = time.monotonic() + 60
        while "done" not in notes.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        lines = notes.read_text().split()
        assert lines[-1] == "done", (tmp_path / "worker.log").read_text()[-3000:]
        assert len(lines) == 3 and int(lines[1]) != first_run, "delivered again, to another process"
    finally:
        stop_celery_worker(worker)
