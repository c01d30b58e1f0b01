"""Dashboard API: admins only, the figures add up to what is stored, and a fixed number of queries per request."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from backend.dashboard.model_selectors import label_efficiency
from backend.learning.models import ModelVersion, TrainingRun
from tests.backend.dashboard_data import seed_dashboard_project
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

PROJECT_ENDPOINTS = [
    "summary",
    "labeling-progress",
    "grade-distribution",
    "kappa-timeline",
    "kappa-by-subset",
    "confusion-matrix",
    "model-registry",
    "label-efficiency",
    "adjudication-summary",
    "reader-performance",
]


def url(slug: str, endpoint: str) -> str:
    return f"/api/dashboard/projects/{slug}/{endpoint}/"


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(ReaderFactory(username="dash-admin", role="admin", experience="senior").user)
    return client


@pytest.fixture
def data():
    return seed_dashboard_project(slug="dash", cases=30, versions=5, kappa_batches=6)


def test_readers_get_403_and_anonymous_401_on_every_endpoint(data, reader_client):
    for path in [url("dash", e) for e in PROJECT_ENDPOINTS] + [
        "/api/dashboard/projects/",
        "/api/dashboard/workers/",
    ]:
        assert APIClient().get(path).status_code == 401, path
        response = reader_client.get(path)
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied", path


def test_an_unknown_project_is_404(admin_client):
    response = admin_client.get(url("nope", "summary"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_labeling_progress_adds_up_per_day_and_per_reader(data, admin_client):
    body = admin_client.get(url("dash", "labeling-progress")).json()
    days = body["by_day"]
    assert body["total_cases"] == 30 and len(days) >= 5
    assert sum(d["levels"] for d in days) == days[-1]["cumulative_levels"] == data.levels
    assert days[-1]["cumulative_readings"] == data.readings and days[-1]["cumulative_cases"] == 30
    assert [d["day"] for d in days] == sorted(d["day"] for d in days)
    readers = body["by_reader"]
    assert len(readers) == 6 and sum(r["done"] for r in readers) == data.readings
    assert all(r["done"] + r["remaining"] == 30 and r["levels"] == 6 * r["done"] for r in readers)
    assert all(40 <= r["median_seconds"] <= 300 for r in readers)


def test_grade_distribution_counts_reference_labels_and_each_group(data, admin_client):
    body = admin_client.get(url("dash", "grade-distribution")).json()
    assert sum(body["reference"]["frozen"]) == 6 * 6 and sum(body["reference"]["training"]) == 24 * 6
    groups = {g["experience"]: g for g in body["reader_groups"]}
    assert set(groups) == {"junior", "senior"}
    assert sum(g["total"] for g in groups.values()) == data.levels
    assert all(sum(g["counts"]) == g["total"] for g in groups.values())


def test_kappa_timeline_groups_series_and_marks_promotions(data, admin_client):
    body = admin_client.get(url("dash", "kappa-timeline")).json()
    pairs = {(s["rater_a"], s["rater_b"]) for s in body["series"]}
    assert pairs == {("model", "junior"), ("model", "senior"), ("junior", "senior"), ("senior", "senior")}
    assert all(len(s["points"]) == 6 for s in body["series"])
    point = body["series"][0]["points"][0]
    assert point["ci95"][0] < point["kappa"] < point["ci95"][1] and point["model_version"].startswith(
        "dash-v"
    )
    promoted = ModelVersion.objects.filter(project=data.project, promoted_at__isnull=False).count()
    assert len(body["promotions"]) == promoted and body["promotions"][-1]["status"] == "champion"
    readers = admin_client.get(
        url("dash", "kappa-timeline"), {"kind": "reader_reader", "task": "binary"}
    ).json()
    assert {s["kind"] for s in readers["series"]} == {"reader_reader"} and readers["task"] == "binary"
    assert admin_client.get(url("dash", "kappa-timeline"), {"subset": "half"}).status_code == 400


def test_kappa_by_subset_gives_the_latest_shown_blinded_and_all(data, admin_client):
    rows = admin_client.get(url("dash", "kappa-by-subset")).json()["rows"]
    assert {r["subset"] for r in rows} == {"all", "shown", "blinded"}
    assert len(rows) == 4 * 3 and all(r["n"] == 60 + 5 for r in rows), "the last of the 6 batches"


def test_confusion_matrix_and_registry_come_from_the_versions_metrics(data, admin_client):
    champion = ModelVersion.objects.get(project=data.project, status="champion")
    matrix = admin_client.get(url("dash", "confusion-matrix")).json()
    assert matrix["model_version"] == f"dash-v{champion.number}"
    assert matrix["matrix"] == champion.metrics["reference"]["confusion_matrix"] and matrix["n"] == 120
    registry = admin_client.get(url("dash", "model-registry")).json()
    assert [r["number"] for r in registry] == [5, 4, 3, 2, 1]
    top = registry[0]
    assert top["status"] == "champion" and top["training_labels"] == data.levels
    assert top["reference"]["kappa_quadratic"] == champion.metrics["reference"]["kappa_quadratic"]
    assert top["training_run"]["status"] == "succeeded" and top["gate"]["promoted"] is not None


def test_label_efficiency_plots_versions_and_reads_the_benchmark_defensively(data, admin_client, tmp_path):
    ModelVersion.objects.filter(project=data.project, number=2).update(status="failed")
    body = admin_client.get(url("dash", "label-efficiency")).json()
    assert [p["model_version"] for p in body["project_points"]] == [
        "dash-v1",
        "dash-v3",
        "dash-v4",
        "dash-v5",
    ]
    assert [p["labels"] for p in body["project_points"]] == sorted(
        p["labels"] for p in body["project_points"]
    )

    path = tmp_path / "label_efficiency.json"
    assert label_efficiency(project=data.project, benchmark_path=path)["benchmark"] == []
    path.write_text(
        json.dumps(
            {
                "strategies": {
                    "random": {
                        "mean_labels_to_target": 120,
                        "curves": {
                            "0": [
                                {"labels": 24, "kappa_quadratic": 0.5, "ci95": [0.4, 0.6]},
                                {"kappa_quadratic": 1},
                            ]
                        },
                    },
                    "entropy": "not a dict",
                }
            }
        )
    )
    strategies = label_efficiency(project=data.project, benchmark_path=path)["benchmark"]
    assert strategies[0] == {
        "strategy": "random",
        "mean_labels_to_target": 120.0,
        "curves": [{"seed": "0", "points": [{"labels": 24, "kappa_quadratic": 0.5, "ci95": [0.4, 0.6]}]}],
    }
    assert strategies[1]["curves"] == []
    path.write_text("{truncated")
    broken = label_efficiency(project=data.project, benchmark_path=path)
    assert broken["benchmark"] == [] and "could not be read" in broken["benchmark_note"]


def test_summary_and_adjudications(data, admin_client):
    TrainingRun.objects.create(
        project=data.project, status="running", progress={"stage": "classifier", "epoch": 2}
    )
    body = admin_client.get(url("dash", "summary")).json()
    assert (body["cases"], body["cases_read"], body["readings"]) == (30, 30, data.readings)
    assert body["levels_submitted"] == data.levels and body["readers"] == 6
    assert body["champion"]["model_version"] == "dash-v5"
    assert body["active_training"]["progress"]["epoch"] == 2
    assert {g["group"] for g in body["model_vs_groups"]} == {"junior", "senior"}
    adjudications = admin_client.get(url("dash", "adjudication-summary")).json()
    assert adjudications["open"] == body["open_adjudications"] > 0 and adjudications["resolved"] > 0
    assert sum(adjudications["open_by_level"].values()) == adjudications["open"]


def test_workers_health_lists_queues_even_without_a_worker(admin_client, settings):
    settings.HEALTH_CHECK_TIMEOUT = 0.3
    body = admin_client.get("/api/dashboard/workers/").json()
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert [q["name"] for q in body["queues"]] == ["celery", settings.TRAINING_QUEUE]
    assert all(q["waiting"] >= 0 for q in body["queues"])


def _query_counts(client, slug: str) -> dict[str, int]:
    counts = {}
    for endpoint in PROJECT_ENDPOINTS:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(slug, endpoint)).status_code == 200
        counts[endpoint] = len(queries)
    return counts


def test_every_endpoint_runs_the_same_number_of_queries_on_three_times_the_data(admin_client):
    seed_dashboard_project(slug="small", cases=20, versions=4, kappa_batches=4, days=5)
    before = _query_counts(admin_client, "small")
    seed_dashboard_project(slug="large", cases=60, versions=12, kappa_batches=12, days=15, readers=9)
    after = _query_counts(admin_client, "large")
    assert after == before
    assert max(after.values()) <= 12, after
