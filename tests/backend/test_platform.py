"""The platform's frame: health, the Celery round trip, settings for production, schema, compose."""

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from backend.config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_a_real_worker(celery_worker_process):
    from backend.common.tasks import ping

    assert ping.delay("round-trip").get(timeout=60) == "round-trip"
    from django_celery_results.models import TaskResult

    assert TaskResult.objects.filter(task_name="common.ping", status="SUCCESS").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_health_is_200_with_a_worker(client, celery_worker_process):
    response = client.get("/api/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(body["checks"][name]["ok"] for name in ("database", "broker", "worker"))
    assert body["checks"]["worker"]["workers"]


@pytest.fixture
def broker_config(monkeypatch):
    """Point the Celery app at another broker for one test; its connection pools are rebuilt."""

    def drop_pools():
        # The app caches connection and producer pools built from the old configuration.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    def configure(**changes):
        for key, value in changes.items():
            monkeypatch.setitem(celery_app.conf, key, value)
        if "broker_url" in changes:  # Celery reads this variable before its own configuration
            monkeypatch.setenv("CELERY_BROKER_URL", changes["broker_url"])
        drop_pools()

    yield configure
    monkeypatch.undo()
    drop_pools()


@pytest.mark.django_db
def test_health_is_503_when_the_broker_is_unreachable(client, broker_config):
    broker_config(broker_url="redis://127.0.0.1:1/0", broker_transport_options={})
    response = client.get("/api/health/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and not checks["broker"]["ok"] and not checks["worker"]["ok"]
    assert checks["broker"]["detail"]


@pytest.mark.django_db
def test_health_is_503_when_no_worker_answers(client, broker_config, monkeypatch, tmp_path):
    # A broker that works but that no worker listens on: a fresh folder, or another Redis database.
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        broker_config(broker_url=settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/15")
    else:
        options = {key: str(tmp_path) for key in ("data_folder_in", "data_folder_out", "control_folder")}
        broker_config(broker_transport_options={**options, "polling_interval": 0.1})
    monkeypatch.setattr(settings, "HEALTH_CHECK_TIMEOUT", 0.5)
    response = client.get("/api/health/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"]
    assert not checks["worker"]["ok"] and "no Celery worker" in checks["worker"]["detail"]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "spine.example.org"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env={"DEBUG": "0", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_openapi_schema_is_valid_and_covers_every_endpoint(admin_client):
    response = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    from drf_spectacular.validation import validate_schema

    validate_schema(schema)
    from tests.backend.test_accounts import _api_routes

    documented = set(schema["paths"])
    undocumented = [
        r
        for r in _api_routes()
        if r not in {"/api/schema/", "/api/docs/"}
        and re.sub(r"<[^>]+:([^>]+)>", r"{\1}", r) not in documented
    ]
    assert not undocumented, f"endpoints missing from the schema: {undocumented}"


def test_swagger_ui_is_served(client):
    assert client.get("/api/docs/").status_code == 200


def test_compose_file_parses_and_names_real_commands():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    app_services = [services[name] for name in ("web", "worker", "beat", "dicom")]
    images = {(s.get("image"), str(s.get("build"))) for s in app_services}
    assert len(images) == 1, "web, worker, beat and the DICOM SCP must run from one image"
    for name, service in services.items():
        assert "healthcheck" in service or name == "beat", f"{name} has no healthcheck"
    assert {"postgres-data", "media"} <= set(compose["volumes"])

    for service in app_services:
        command = (
            shlex.split(service["command"]) if isinstance(service["command"], str) else service["command"]
        )
        executable = command[0]
        assert executable in {"gunicorn", "celery", "python"}
        requirement = {"gunicorn": "gunicorn", "celery": "celery"}.get(executable)
        if requirement:
            assert re.search(rf"^{requirement}==", (ROOT / "requirements.txt").read_text(), re.M)
        if command[1] == "manage.py":  # a management command of one of the apps
            assert list(ROOT.glob(f"backend/*/management/commands/{command[2]}.py")), command[2]
            continue
        target = command[command.index("-A") + 1] if "-A" in command else command[1].split(":")[0]
        module = target.replace(".", "/")
        assert (ROOT / f"{module}.py").exists() or (ROOT / module / "__init__.py").exists(), target
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in re.findall(r"^COPY\s+(\S+)\s", dockerfile, re.M):
        if not path.startswith("--"):
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_spa_shell_is_served_for_app_routes(client):
    for route in ("/", "/login", "/worklist"):
        response = client.get(route)
        assert response.status_code == 200, route
        assert b'<div id="root">' in b"".join(response.streaming_content)


@pytest.mark.django_db
def test_every_model_has_an_admin_page_that_lists_filters_and_searches(admin_client):
    from django.apps import apps
    from django.contrib import admin
    from django.urls import reverse

    models = [m for m in apps.get_models() if m.__module__.startswith("backend.")]
    missing = [m.__name__ for m in models if m not in admin.site._registry]
    assert not missing, f"models without an admin: {missing}"
    for model in models:
        model_admin = admin.site._registry[model]
        assert model_admin.list_filter or model_admin.search_fields, f"{model.__name__}: no filters or search"
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        query = "?q=x" if model_admin.search_fields else ""
        assert admin_client.get(url + query).status_code == 200, model.__name__
