"""Caliper measurements at a level: lengths computed from patient-space points, kept with the level's
annotation and its history, the Torg-Pavlov ratio, the export, and bad points refused."""

import csv
import io
import math

import pytest

from backend.accounts.models import Role
from backend.reading.models import AnnotationEvent, Case, LevelAnnotation
from tests.backend.test_reading import project, reader_client  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
CANAL = [[1.0, 10.0, -40.0], [1.0, 22.5, -41.2]]
BODY = [[1.0, -8.0, -40.0], [1.0, 9.0, -40.5]]


def _put(client, case, body):
    return client.put(f"/api/reading/cases/{case.pk}/levels/C5-6/", body, format="json")


def test_a_caliper_is_kept_in_mm_with_the_torg_pavlov_ratio_and_exported(project):  # noqa: F811
    case = Case.objects.order_by("pk").first()
    client, reader = reader_client(project)
    first = _put(client, case, {"grade": 1, "measurements": {"canal_ap": {"points": CANAL, "mm": 99}}})
    assert first.status_code == 200, first.content
    saved = first.json()
    assert saved["measurements"]["canal_ap"]["mm"] == pytest.approx(math.dist(*CANAL), abs=0.01), (
        "not the client's"
    )
    assert saved["torg_pavlov"] is None
    second = _put(client, case, {"version": saved["version"], "measurements": {"body_ap": {"points": BODY}}})
    both = second.json()["measurements"]
    assert set(both) == {"canal_ap", "body_ap"}, "a measure left out stays"
    assert second.json()["torg_pavlov"] == pytest.approx(math.dist(*CANAL) / math.dist(*BODY), abs=0.001)
    events = AnnotationEvent.objects.filter(annotation__level="C5/6").order_by("pk")
    assert events.last().before["measurements"] == {"canal_ap": saved["measurements"]["canal_ap"]}

    cleared = _put(client, case, {"version": second.json()["version"], "measurements": {"body_ap": None}})
    assert set(cleared.json()["measurements"]) == {"canal_ap"} and cleared.json()["torg_pavlov"] is None
    _put(client, case, {"version": cleared.json()["version"], "measurements": {"body_ap": {"points": BODY}}})
    for level in ("C2-3", "C3-4", "C4-5", "C6-7", "C7-T1"):
        client.put(f"/api/reading/cases/{case.pk}/levels/{level}/", {"grade": 0}, format="json")
    assert client.post(f"/api/reading/cases/{case.pk}/submit/", {}, format="json").status_code == 200

    admin, _ = reader_client(project, role=Role.ADMIN)
    exported = admin.get("/api/exports/projects/spine/annotations.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    row = next(r for r in rows if r["level"] == "C5/6" and r["reader"] == reader.user.username)
    assert float(row["canal_ap_mm"]) == pytest.approx(math.dist(*CANAL), abs=0.01)
    assert float(row["torg_pavlov"]) == pytest.approx(math.dist(*CANAL) / math.dist(*BODY), abs=0.001)


@pytest.mark.parametrize(
    "measurements",
    [
        {"canal": {"points": CANAL}},  # an unknown measure
        {"canal_ap": {"points": CANAL[:1]}},  # one point
        {"canal_ap": {"points": [[1.0, 2.0], [3.0, 4.0]]}},  # 2-D points
        {"canal_ap": {"points": [[1.0, 2.0, "x"], [3.0, 4.0, 5.0]]}},
        {"canal_ap": {"points": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]}},  # no length
        {"canal_ap": {"points": [[0.0, 0.0, 0.0], [0.0, 400.0, 0.0]]}},  # longer than a neck
        {"canal_ap": {"points": [[1e308, 0.0, 0.0], [0.0, 1.0, 0.0]]}},
        {"canal_ap": [1, 2, 3]},
        [1, 2],
    ],
)
def test_bad_measurements_are_refused_and_change_nothing(project, measurements):  # noqa: F811
    case = Case.objects.order_by("pk").first()
    client, _ = reader_client(project)
    saved = _put(client, case, {"grade": 2, "measurements": {"canal_ap": {"points": CANAL}}}).json()
    response = _put(client, case, {"version": saved["version"], "grade": 3, "measurements": measurements})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_measurement"
    annotation = LevelAnnotation.objects.get(level="C5/6")
    assert (annotation.grade, annotation.version) == (2, saved["version"])
    assert annotation.measurements == saved["measurements"]


def test_submitted_calipers_teach_the_models_canal_measurement_and_drafts_do_not(project):  # noqa: F811
    from backend.reading.selectors import canal_ap_for_training

    case = Case.objects.order_by("pk").first()
    lengths = []
    for k, offset in enumerate((0.0, 2.0, 3.0)):  # three readers: two submit, the last keeps a draft
        client, _ = reader_client(project)
        points = [CANAL[0], [CANAL[1][0], CANAL[1][1] + offset, CANAL[1][2]]]
        _put(client, case, {"grade": 1, "measurements": {"canal_ap": {"points": points}}})
        if k < 2:
            lengths.append(math.dist(*points))
            for level in ("C2-3", "C3-4", "C4-5", "C6-7", "C7-T1"):
                client.put(f"/api/reading/cases/{case.pk}/levels/{level}/", {"grade": 0}, format="json")
            assert client.post(f"/api/reading/cases/{case.pk}/submit/", {}, format="json").status_code == 200
    known = canal_ap_for_training(study_ids=[case.pair.ct_study_id])
    assert known == {case.pair.ct_study_id: {"C5/6": pytest.approx(sum(lengths) / 2, abs=0.01)}}
