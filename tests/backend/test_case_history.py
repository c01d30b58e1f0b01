"""A case's history for its admins: every change, who made it, when, from which view."""

import pytest

from backend.accounts.models import Experience, Role
from backend.learning.models import AdjudicationItem
from backend.learning.services import adjudication_resolve, reference_labels_update
from backend.reading.models import Case
from tests.backend.test_reading import grade_all, project, reader_client  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_an_admin_sees_every_change_to_a_case_in_order(project):  # noqa: F811
    case = Case.objects.order_by("pk").first()
    first, _ = reader_client(project, username="dr-one")
    second, _ = reader_client(project, username="dr-two")
    grade_all(first, case.pk, grades=(0, 0, 0, 0, 0, 0))
    changed = first.put(
        f"/api/reading/cases/{case.pk}/levels/C5-6/",
        {"grade": 1, "version": 1, "note": "osteophyte"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    caliper = {"canal_ap": {"points": [[0.0, 10.0, -40.0], [0.0, 21.0, -40.0]]}}
    measured = first.put(
        f"/api/reading/cases/{case.pk}/levels/C4-5/", {"version": 1, "measurements": caliper}, format="json"
    )
    assert measured.status_code == 200, measured.content
    placed = first.put(
        f"/api/reading/cases/{case.pk}/levels/C5-6/position/",
        {"modality": "CT", "centre": [0.0, 1.0, -40.0]},
        format="json",
    )
    assert placed.status_code == 200, placed.content
    grade_all(second, case.pk, grades=(0, 0, 0, 3, 0, 0))
    for client in (first, second):
        assert client.post(f"/api/reading/cases/{case.pk}/submit/", {}, format="json").status_code == 200
    reference_labels_update(project=project)
    item = AdjudicationItem.objects.get(case=case, level="C5/6")
    senior_client, senior = reader_client(project, username="dr-senior", experience=Experience.SENIOR)
    adjudication_resolve(item=item, user=senior.user, grade=2, note="cord flattened on T2")

    admin, _ = reader_client(project, role=Role.ADMIN, username="dr-admin")
    response = admin.get(f"/api/dashboard/cases/{case.pk}/history/")
    assert response.status_code == 200, response.content
    history = response.json()
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    mine = [e for e in history if e["actor"] == "dr-one"]
    assert mine[0] == {**mine[0], "kind": "reading", "action": "open"}
    update = next(e for e in mine if e["kind"] == "annotation" and e["action"] == "update")
    assert update["level"] == "C5/6" and update["view"] == "no_model"
    assert update["changes"] == {"grade": [0, 1], "note": ["", "osteophyte"]}
    caliper_entry = next(
        e for e in mine if e["kind"] == "annotation" and e["level"] == "C4/5" and e["action"] == "update"
    )
    assert caliper_entry["changes"]["measurements"][1]["canal_ap"]["mm"] == 11.0
    correction = next(e for e in mine if e["kind"] == "level_position")
    assert (correction["action"], correction["level"], correction["view"]) == ("reader", "C5/6", "CT")
    assert sum(1 for e in mine if e["kind"] == "annotation" and e["action"] == "submit") == 6
    resolved = next(e for e in history if e["kind"] == "adjudication" and e["action"] == "resolve")
    assert resolved["actor"] == "dr-senior"
    assert (
        resolved["changes"]["grade"] == [None, 2] and resolved["changes"]["note"][1] == "cord flattened on T2"
    )

    # Readers (the senior included) are refused; an admin of another project learns nothing.
    assert senior_client.get(f"/api/dashboard/cases/{case.pk}/history/").status_code == 403
    assert first.get(f"/api/dashboard/cases/{case.pk}/history/").status_code == 403
    assert admin.get("/api/dashboard/cases/999999/history/").status_code == 404
