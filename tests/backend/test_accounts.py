import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from backend.accounts.models import Experience, Role
from backend.accounts.services import reader_create
from backend.common.exceptions import ApplicationError
from tests.backend.factories import DEFAULT_PASSWORD, ReaderFactory

pytestmark = pytest.mark.django_db


def test_admin_role_gets_django_staff_rights():
    profile = reader_create(username="boss", password=DEFAULT_PASSWORD, experience="senior", role="admin")
    assert profile.user.is_staff and profile.user.is_superuser
    reader = reader_create(username="r", password=DEFAULT_PASSWORD)
    assert not reader.user.is_staff
    assert (reader.experience, reader.role) == (Experience.JUNIOR, Role.READER)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"experience": "resident"}, "invalid_experience"),
        ({"role": "owner"}, "invalid_role"),
    ],
)
def test_reader_create_rejects_unknown_choices(kwargs, code):
    with pytest.raises(ApplicationError) as caught:
        reader_create(username="x", password=DEFAULT_PASSWORD, **kwargs)
    assert caught.value.code == code


def test_duplicate_username_is_a_conflict_and_keeps_the_first():
    first = ReaderFactory(username="dup", experience="senior")
    with pytest.raises(ApplicationError) as caught:
        reader_create(username="dup", password=DEFAULT_PASSWORD, experience="junior")
    assert caught.value.status == 409
    first.refresh_from_db()
    assert first.experience == "senior"


def test_weak_password_is_refused():
    with pytest.raises(Exception, match="too short|too common"):
        reader_create(username="weak", password="abc")


def test_session_login_then_me(api_client, reader):
    response = api_client.post(
        "/api/auth/login/", {"username": reader.user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    me = api_client.get("/api/auth/me/").json()
    assert me["username"] == reader.user.username
    assert me["experience"] == "junior" and me["role"] == "reader"


def test_wrong_password_gets_one_error_body(api_client, reader):
    response = api_client.post(
        "/api/auth/login/", {"username": reader.user.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_credentials", "message": "Wrong username or password."}
    }


def test_missing_fields_are_a_validation_error(api_client):
    response = api_client.post("/api/auth/login/", {"username": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error" and "password" in body["fields"]


def test_token_authentication(api_client, reader):
    token = api_client.post(
        "/api/auth/token/", {"username": reader.user.username, "password": DEFAULT_PASSWORD}, format="json"
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/auth/me/").json()["username"] == reader.user.username
    api_client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api_client.get("/api/auth/me/").status_code == 401


PUBLIC_API = {"/api/health/", "/api/schema/", "/api/docs/", "/api/auth/login/", "/api/auth/token/"}


def _api_routes(resolver=None, prefix="/") -> list[str]:
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            routes += _api_routes(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("/api/") and "<" not in route:
            routes.append(route)
    return routes


def test_every_api_endpoint_denies_anonymous_requests_by_default(api_client):
    routes = _api_routes()
    assert "/api/auth/me/" in routes
    for route in sorted(set(routes) - PUBLIC_API):
        for method in ("get", "post"):
            status = getattr(api_client, method)(route).status_code
            assert status in (401, 403, 405), f"{method.upper()} {route} answered {status} to anonymous"


def test_seed_demo_is_idempotent(capsys, tmp_path):
    from django.core.management import call_command

    from backend.imaging.models import Instance, Study

    call_command("seed_demo", "--patients", "2", "--cohort-dir", str(tmp_path / "cohort"))
    stored = Instance.objects.count()
    call_command("seed_demo", "--patients", "2", "--cohort-dir", str(tmp_path / "cohort"))
    from backend.projects.models import Membership

    assert sorted(
        Membership.objects.filter(project__slug="demo")
        .exclude(user__username__startswith="sim-")
        .values_list("user__username", "user__reader_profile__experience", "role")
    ) == [
        ("admin", "senior", "admin"),
        ("junior", "junior", "reader"),
        ("senior", "senior", "reader"),
    ]
    out = capsys.readouterr().out
    assert "junior-demo-pass" in out and "already there" in out
    assert stored > 0 and Instance.objects.count() == stored
    assert Study.objects.filter(projects__slug="demo").count() == 4  # CT and MR of two patients
    from backend.reading.models import Case

    assert Case.objects.filter(project__slug="demo").count() == 2
    assert set(
        Study.objects.get(modality="CT", patient__patient_id__endswith="0001").projects.values_list(
            "memberships__user__username", flat=True
        )
    ) >= {"admin", "senior", "junior"}
    read = Case.objects.filter(project__slug="demo", assignments__status="submitted").distinct()
    assert [c.in_reference_set for c in read] == [True], "simulated readers read the reference set first"
    assert "Demo reading by simulated readers: done already" in out


def test_the_demo_reference_set_holds_the_cases_with_pathology(tmp_path):
    from django.core.management import call_command

    from backend.reading.models import Case

    # Six phantoms of the demo's seed: the random draw would freeze patient 6 (all grade 0) and
    # leave out patient 5 (grades 1 and 2).
    call_command(
        "seed_demo", "--patients", "6", "--simulated-share", "0", "--cohort-dir", str(tmp_path / "c")
    )
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    worst = {p["patient_id"]: max(lv["grade"] for lv in p["levels"]) for p in manifest["patients"]}
    cases = Case.objects.filter(project__slug="demo").select_related("pair__patient")
    reference = {c.pair.patient.patient_id for c in cases if c.in_reference_set}
    assert len(reference) == 2
    assert min(worst[p] for p in reference) >= max(worst[p] for p in worst if p not in reference), worst


def test_the_demos_first_training_waits_for_the_worker_instead_of_holding_the_terminal(tmp_path):
    from django.core.management import call_command

    from backend.learning.models import ModelVersion, TrainingRun

    call_command(
        "seed_demo", "--patients", "6", "--simulated-share", "1", "--cohort-dir", str(tmp_path / "c")
    )
    runs = TrainingRun.objects.filter(project__slug="demo")
    assert [run.status for run in runs] == ["queued"], "one training, queued for the worker"
    assert runs.get().started_at is None and not ModelVersion.objects.filter(project__slug="demo").exists()
