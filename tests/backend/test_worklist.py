"""The worklist for real lists: pages, filters, sorts and search in one query, and nothing that would
bias a blinded read (no priority on a blinded case; colleagues' disagreement only after submitting)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.projects.services import project_create
from backend.reading.models import Case
from tests.backend import dicom_files as F
from tests.backend.test_reading import grade_all, reader_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    for k in range(6):
        F.write_series(tmp_path / f"ct{k}", 1, patient_id=f"PAT-{k:03d}", study_date=date(2025, 1, 1))
        F.write_series(
            tmp_path / f"mr{k}", 1, patient_id=f"PAT-{k:03d}", modality="MR", study_date=date(2025, 1, 5)
        )
    job = ingest_job_create(source=IngestJob.Source.FOLDER, project=project)
    ingest_job_run(job=job, paths=sorted(tmp_path.rglob("*.dcm")))
    for k, case in enumerate(Case.objects.order_by("pk")):
        case.priority, case.in_reference_set = float(k), k < 2
        case.save()
    return project


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["cases"]]


def test_the_worklist_pages_and_counts_over_all_cases(project):
    client, _ = reader_client(project)
    by_priority = list(Case.objects.order_by("-priority").values_list("pk", flat=True))
    first = client.get("/api/reading/worklist/?limit=4").json()
    second = client.get("/api/reading/worklist/?limit=4&offset=4").json()
    assert [c["id"] for c in first["cases"] + second["cases"]] == by_priority
    assert (first["count"], first["limit"], first["offset"], second["offset"]) == (6, 4, 0, 4)
    assert (first["done"], first["remaining"], first["next_case"]) == (0, 6, by_priority[0])
    assert len(client.get("/api/reading/worklist/?limit=100000").json()["cases"]) == 6  # cut to the maximum


def test_filters_sorts_and_search(project):
    client, _ = reader_client(project)
    cases = list(Case.objects.order_by("pk"))
    assert set(_ids(client.get("/api/reading/worklist/?reference=true"))) == {c.pk for c in cases[:2]}
    assert set(_ids(client.get("/api/reading/worklist/?reference=false"))) == {c.pk for c in cases[2:]}
    pat3 = Case.objects.get(pair__patient__patient_id="PAT-003").pk
    assert _ids(client.get("/api/reading/worklist/?search=at-003")) == [pat3]  # any part, any case
    assert _ids(client.get("/api/reading/worklist/?search=nobody")) == []
    assert _ids(client.get("/api/reading/worklist/?sort=date")) == [c.pk for c in cases]
    assert _ids(client.get("/api/reading/worklist/?sort=-date")) == [c.pk for c in reversed(cases)]
    assert len(_ids(client.get("/api/reading/worklist/?project=spine"))) == 6
    assert _ids(client.get("/api/reading/worklist/?project=other")) == []

    grade_all(client, cases[0].pk)  # a draft comes first in the reading order
    assert _ids(client.get("/api/reading/worklist/"))[0] == cases[0].pk
    assert _ids(client.get("/api/reading/worklist/?status=draft")) == [cases[0].pk]
    assert client.post(f"/api/reading/cases/{cases[0].pk}/submit/", {}, format="json").status_code == 200
    assert _ids(client.get("/api/reading/worklist/?status=submitted")) == [cases[0].pk]
    assert _ids(client.get("/api/reading/worklist/"))[-1] == cases[0].pk
    assert len(_ids(client.get("/api/reading/worklist/?status=new"))) == 5


def test_a_page_is_a_fixed_number_of_queries_however_many_cases(project):
    client, _ = reader_client(project)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/reading/worklist/?limit=2")
    with CaptureQueriesContext(connection) as more:
        client.get("/api/reading/worklist/?limit=6")
    assert len(few.captured_queries) == len(more.captured_queries) <= 12


def test_a_blinded_case_shows_no_priority(project):
    client, _ = reader_client(project)
    blinded = Case.objects.order_by("pk").first()
    blinded.blinded = True
    blinded.save()
    rows = {c["id"]: c for c in client.get("/api/reading/worklist/").json()["cases"]}
    assert rows[blinded.pk]["priority"] is None
    assert all(row["priority"] is not None for pk, row in rows.items() if pk != blinded.pk)


def test_disagreement_is_shown_only_after_the_reader_submitted_and_filters(project):
    case = Case.objects.order_by("pk").first()
    first, _ = reader_client(project)
    second, _ = reader_client(project)
    third, _ = reader_client(project)
    grade_all(first, case.pk, grades=(0, 0, 0, 0, 0, 0))
    grade_all(second, case.pk, grades=(0, 0, 3, 0, 0, 1))
    for client in (first, second):
        assert client.post(f"/api/reading/cases/{case.pk}/submit/", {}, format="json").status_code == 200
    row = next(c for c in first.get("/api/reading/worklist/").json()["cases"] if c["id"] == case.pk)
    assert row["disagreement"] == 3
    assert _ids(first.get("/api/reading/worklist/?disagreement=2")) == [case.pk]
    assert _ids(first.get("/api/reading/worklist/?disagreement=0")) == [case.pk]
    # A reader who has not read the case is told nothing of how the others graded it.
    row = next(c for c in third.get("/api/reading/worklist/").json()["cases"] if c["id"] == case.pk)
    assert row["disagreement"] is None
    assert _ids(third.get("/api/reading/worklist/?disagreement=0")) == []


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "limit=0",
        "limit=x",
        "offset=-1",
        "disagreement=4",
        "sort=name",
        "reference=maybe",
        "search=%00",
        "search=" + "x" * 65,
        "project=../etc",
    ],
)
def test_bad_worklist_queries_are_refused_clearly(project, query):
    client, _ = reader_client(project)
    response = client.get(f"/api/reading/worklist/?{query}")
    assert response.status_code == 400, (query, response.content)
    assert response.json()["error"]["code"]
