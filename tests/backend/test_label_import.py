"""Importing the grades a team already has: 1,000 levels, bad rows by line, idempotent, round trip."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.projects.models import AuditEntry
from backend.projects.services import project_create, project_member_add
from backend.reading.models import AnnotationEvent, Assignment, Case, LevelAnnotation
from backend.reading.services import assignment_open, level_annotation_save
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

CASES = 84  # x 6 levels x 2 readers = 1,008 rows


@pytest.fixture
def project():
    project = project_create(name="Import", slug="import", blinded_share=0.0, reference_share=0.0)
    patients = Patient.objects.bulk_create([Patient(patient_id=f"P{k:03d}") for k in range(CASES)])
    studies = Study.objects.bulk_create(
        [
            Study(study_uid=f"1.2.3.{k}.{m}", patient=p, modality=mod)
            for k, p in enumerate(patients)
            for m, mod in enumerate(("CT", "MR"))
        ]
    )
    pairs = StudyPair.objects.bulk_create(
        [
            StudyPair(patient=p, ct_study=studies[2 * k], mr_study=studies[2 * k + 1])
            for k, p in enumerate(patients)
        ]
    )
    Case.objects.bulk_create([Case(project=project, pair=pair) for pair in pairs])
    return project


@pytest.fixture
def admin(project):
    user = ReaderFactory(username="boss").user
    project_member_add(project=project, user=user, role="admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


def _csv(rows: list[dict], columns=("patient_id", "level", "grade", "reader", "reader_experience")) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*columns, "x0", "y0", "x1", "y1"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _rows() -> list[dict]:
    rows = []
    for k in range(CASES):
        for j, level in enumerate(LEVELS):
            for reader, experience in (("dr_senior", "senior"), ("dr_junior", "junior")):
                row = {
                    "patient_id": f"P{k:03d}",
                    "level": level,
                    "grade": (k + j) % 4,
                    "reader": reader,
                    "reader_experience": experience,
                }
                if k % 10 == 0:
                    row.update(x0=10, y0=20 + 30 * j, x1=60, y1=45 + 30 * j)
                rows.append(row)
    return rows


def _import(client, content: bytes, slug: str = "import"):
    return client.post(
        f"/api/reading/projects/{slug}/labels/import/",
        {"file": SimpleUploadedFile("labels.csv", content, content_type="text/csv")},
        format="multipart",
    )


def test_a_thousand_levels_import_once_bad_rows_are_named_by_line_and_the_rest_kept(project, admin):
    rows = _rows()
    bad = [
        {
            "patient_id": "NOBODY",
            "level": "C3/4",
            "grade": 1,
            "reader": "dr_senior",
            "reader_experience": "senior",
        },
        {
            "patient_id": "P001",
            "level": "C3/4",
            "grade": 7,
            "reader": "dr_senior",
            "reader_experience": "senior",
        },
        {
            "patient_id": "P001",
            "level": "C9/10",
            "grade": 1,
            "reader": "dr_senior",
            "reader_experience": "senior",
        },
    ]
    content = _csv([*rows[:500], *bad, *rows[500:]])  # header is line 1: the bad rows are lines 502-504
    first = _import(admin, content)
    assert first.status_code == 200, first.content
    report = first.json()
    assert (report["rows"], report["created"], report["rejected"]) == (1011, 1008, 3)
    assert sorted(report["readers_created"]) == ["dr_junior", "dr_senior"]
    assert [e["line"] for e in report["errors"]] == [502, 503, 504]
    assert "NOBODY" in report["errors"][0]["message"] and "grade" in report["errors"][1]["message"]
    assert "C9/10" in report["errors"][2]["message"]

    assert Assignment.objects.filter(case__project=project, status="submitted").count() == 2 * CASES
    imported = LevelAnnotation.objects.filter(assignment__case__project=project)
    assert imported.count() == 1008 and set(imported.values_list("display", flat=True)) == {"imported"}
    assert AnnotationEvent.objects.filter(action="import").count() == 1008
    boxed = imported.get(
        assignment__reader__username="dr_senior",
        assignment__case__pair__patient__patient_id="P000",
        level="C2/3",
    )
    assert boxed.box == [10.0, 20.0, 60.0, 45.0] and boxed.grade == 0
    assert AuditEntry.objects.filter(project=project, action="labels.import").count() == 1
    from backend.learning.models import ReferenceLabel
    from backend.learning.services import reference_labels_update

    reference_labels_update(project=project)  # what the worker does after the import's commit
    assert ReferenceLabel.objects.filter(case__project=project).count() == 6 * CASES, "imported labels teach"

    again = _import(admin, content).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1008), "idempotent"
    rows[0]["grade"] = 3
    changed = _import(admin, _csv(rows)).json()
    assert (changed["updated"], changed["unchanged"]) == (1, 1007)
    assert AuditEntry.objects.filter(project=project, action="labels.import").count() == 2


def test_the_annotations_export_imports_back_unchanged(project, admin):
    assert _import(admin, _csv(_rows()[:120])).json()["created"] == 120
    exported = admin.get("/api/exports/projects/import/annotations.csv")
    assert exported.status_code == 200
    content = b"".join(exported.streaming_content)
    assert b"ct_study_uid" in content.splitlines()[0]
    report = _import(admin, content).json()
    assert (report["rows"], report["unchanged"], report["rejected"]) == (120, 120, 0), report["errors"][:3]


def test_an_import_never_overwrites_a_reading_made_in_the_platform_and_needs_an_admin(project, admin):
    reader = ReaderFactory(username="dr_senior", experience="senior").user
    project_member_add(project=project, user=reader, role="reader")
    case = Case.objects.get(pair__patient__patient_id="P000")
    assignment = assignment_open(case=case, reader=reader)
    level_annotation_save(assignment=assignment, level="C2/3", user=reader, version=None, grade=2)
    report = _import(admin, _csv(_rows()[:12])).json()  # P000 and P001, both readers... P000 only here
    refused = [e for e in report["errors"] if "read case" in e["message"]]
    assert len(refused) == 6 and report["created"] == 6, report
    assert LevelAnnotation.objects.get(assignment=assignment, level="C2/3").grade == 2

    as_reader = APIClient()
    as_reader.force_authenticate(reader)
    assert _import(as_reader, _csv(_rows()[:2])).status_code in (403, 404)
    missing = _import(admin, b"patient_id,level\nP000,C2/3\n")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_labels_file"
    assert "grade" in missing.json()["error"]["message"]


def test_hostile_label_files_get_a_clear_400_or_a_line_error(project, admin):
    nul = _import(admin, b"patient_id,level,grade,reader,reader_experience\nP000,C2/3,1,dr\x00x,senior\n")
    assert nul.status_code == 200, "the csv module reads a NUL; the row is refused, by its line"
    assert nul.json()["rejected"] == 1 and nul.json()["errors"][0] == {
        "line": 2,
        "message": "the row holds a NUL character",
    }
    assert _import(admin, b"\xff\xfe not utf-8").json()["error"]["code"] == "bad_labels_file"
    wide = (
        b'patient_id,level,grade,reader,reader_experience,box\nP000,C2/3,1,dr,senior,"'
        + b"9" * 200_000
        + b'"\n'
    )
    assert _import(admin, wide).status_code == 400
    bad_box = _import(
        admin, b'patient_id,level,grade,reader,reader_experience,box\nP000,C2/3,1,dr,senior,"[5,5,1,1]"\n'
    )
    assert bad_box.json()["errors"][0]["message"].startswith("bad box")
