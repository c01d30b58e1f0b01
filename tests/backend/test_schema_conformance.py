"""What schemathesis found against /api/schema/ (tests/schema_fuzz.py), each kept fixed here: answers
outside the schema, data the schema allows refused, data it forbids taken, and a server error."""

import jsonschema_rs
import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient

from backend.accounts.services import reader_create
from backend.common.schema import NOT_BLANK
from tests.backend.permission_data import World, world_fixture  # noqa: F401 (the world fixture)


def client_of(world: World, role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    return client


@pytest.fixture
def rolled_back(db):
    """Each request of a test in a transaction of its own, rolled back: the module's world stays as built."""

    def send(client: APIClient, method: str, url: str, body=None, **extra):
        with transaction.atomic():
            response = getattr(client, method)(url, body, format="json", **extra)
            transaction.set_rollback(True)
        return response

    return send


def test_every_operation_documents_the_error_body_of_each_status_it_can_answer():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    error = "#/components/schemas/ErrorOutput"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"400"} | ({"404"} if "{" in path else set())
            if operation["operationId"] not in ("health", "auth_token"):
                expected |= {"401"}
            assert expected <= set(responses), (method, path, sorted(responses))
            for status, response in responses.items():
                if status.startswith("4") and "application/json" in response.get("content", {}):
                    assert response["content"]["application/json"]["schema"] == {"$ref": error}, (
                        path,
                        status,
                    )


def test_clearing_a_box_or_a_grade_with_null_is_taken(world, rolled_back):
    """The reading view clears the ROI (`x`) with {"box": null}: it answered 400 "may not be null"."""
    reader, url = client_of(world, "reader"), f"/api/reading/cases/{world.ids['case_id']}/levels/C5-6/"
    with transaction.atomic():
        saved = reader.put(url, {"grade": 2, "box": [1, 2, 30, 40]}, format="json").json()
        cleared = reader.put(url, {"box": None, "version": saved["version"]}, format="json")
        assert cleared.status_code == 200, cleared.content
        assert cleared.json()["box"] is None and cleared.json()["grade"] == 2
        ungraded = reader.put(url, {"grade": None, "version": cleared.json()["version"]}, format="json")
        assert ungraded.status_code == 200 and ungraded.json()["grade"] is None
        transaction.set_rollback(True)


def test_a_case_id_beyond_any_key_is_refused_not_a_server_error(world, rolled_back):
    """OverflowError (SQLite) or DataError (PostgreSQL): a 500."""
    url = f"/api/learning/projects/{world.ids['slug']}/reference-set/"
    response = rolled_back(
        client_of(world, "admin"), "post", url, {"case_ids": [2**70], "in_reference_set": True}
    )
    assert response.status_code == 400 and "case_ids" in response.json()["error"]["fields"]


def test_a_password_is_taken_as_typed(world, rolled_back):
    """Leading and trailing spaces are part of a password; they were trimmed before it was checked."""
    with transaction.atomic():
        reader_create(username="spacey", password="  a long spaced password  ", validate=False)
        response = APIClient().post(
            "/api/auth/token/",
            {"username": "spacey", "password": "  a long spaced password  "},
            format="json",
        )
        transaction.set_rollback(True)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "url", ["/api/reading/cases/not-a-number/", "/api/no-such-thing/", "/dicomweb/studies/1/series/2/nope"]
)
def test_a_path_that_matches_no_route_answers_the_error_body(world, rolled_back, url):
    """Django's HTML page before."""
    response = rolled_back(client_of(world, "reader"), "get", url)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_an_export_refused_answers_the_error_body_whatever_the_accept_header(world, rolled_back):
    """It was labelled text/csv (or */*), as the file would have been."""
    url = f"/api/exports/projects/{world.ids['slug']}/annotations.csv"
    response = rolled_back(client_of(world, "reader"), "get", url, HTTP_ACCEPT="text/csv")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_version_without_reference_metrics_has_an_interval_of_two_nulls(world, rolled_back):
    """It was null, where the schema promises a pair."""
    admin = client_of(world, "admin")
    rows = rolled_back(admin, "get", f"/api/dashboard/projects/{world.ids['slug']}/model-registry/").json()
    assert rows and all(row["reference"]["kappa_quadratic_ci95"] == [None, None] for row in rows)
    matrix = rolled_back(
        admin, "get", f"/api/dashboard/projects/{world.ids['slug']}/confusion-matrix/"
    ).json()
    assert matrix["kappa_quadratic_ci95"] == [None, None]


@pytest.mark.parametrize(
    ("role", "method", "url", "body"),
    [
        ("admin", "put", "/api/learning/projects/spine/reference-set/{case_id}/", {"in_reference_set": 0}),
        (
            "admin",
            "post",
            "/api/learning/projects/spine/reference-set/",
            {"case_ids": [1], "in_reference_set": "yes"},
        ),
        ("admin", "get", "/api/learning/projects/spine/kappa/?weighting=", None),
        ("admin", "get", "/api/dashboard/projects/spine/kappa-timeline/?subset=", None),
        ("admin", "get", "/api/projects/spine/audit/?offset=null", None),
        ("admin", "get", "/api/projects/spine/audit/?limit=0", None),
        ("admin", "get", "/api/exports/projects/spine/annotations.csv?status=", None),
        ("reader", "get", "/dicomweb/studies?limit=", None),
        ("reader", "get", "/dicomweb/studies?offset=-1", None),
    ],
)
def test_input_the_schema_forbids_is_refused(world, rolled_back, role, method, url, body):
    """DRF took 0 and "yes" for true, an empty query value for the default, and junk paging for page one."""
    response = rolled_back(client_of(world, role), method, url.format(**world.ids), body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


def test_paging_the_audit_still_works(world, rolled_back):
    page = rolled_back(client_of(world, "admin"), "get", "/api/projects/spine/audit/?limit=2&offset=1").json()
    assert len(page["results"]) == 2 and page["count"] > 3


def test_a_count_beyond_its_column_is_refused_not_a_server_error(world, rolled_back):
    """PostgreSQL's integer column refused reads_per_case 2**45 (DataError: a 500); SQLite stored it."""
    url = f"/api/reading/projects/{world.ids['slug']}/allocation/"
    body = {"allocation": "round_robin", "reads_per_case": 2**45, "reader_case_cap": 2**31}
    response = rolled_back(client_of(world, "admin"), "put", url, body)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"reads_per_case", "reader_case_cap"}


def test_the_pattern_of_a_string_that_may_not_be_blank_refuses_what_drf_trims_to_nothing():
    """It said \\s, which in a JSON schema's regular expressions leaves out "\\x1d" and three more that
    DRF trims: schemathesis sent {"username": "\\x1d"} as valid and got 400. Checked with the validator
    schemathesis uses (jsonschema-rs)."""
    pattern = jsonschema_rs.validator_for({"type": "string", "pattern": NOT_BLANK})
    field = serializers.CharField()
    for character in map(chr, range(1, 0x3001)):
        try:
            field.run_validation(f" {character} ")
            taken = True
        except serializers.ValidationError:
            taken = False
        assert pattern.is_valid(f" {character} ") == taken, hex(ord(character))
