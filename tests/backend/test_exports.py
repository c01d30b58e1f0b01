"""Exports: annotations with provenance (CSV, JSON), ROI boxes (COCO), model metrics (CSV), DICOM SR.

Real data throughout: DICOM series written by pydicom and ingested, readings made through the
reading services, the SR read back with pydicom.
"""

import csv
import io
import json
from datetime import date

import pydicom
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.uid import ComprehensiveSRStorage
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.exports import selectors
from backend.exports.formats import COCO_CATEGORIES
from backend.imaging.models import IngestJob, Instance
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import ModelVersion
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import (
    assignment_open,
    assignment_submit,
    level_annotation_save,
)
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

GRADES = {"senior": (0, 1, 2, 3, 1, 0), "junior": (0, 2, 2, 3, 0, 0)}
CT_SLICES, CT_SIZE, CT_SPACING = 5, 32, 0.5


def _box(k: int) -> list[float]:
    return [2.0 + k, 3.0 + 4 * k, 20.0 + k, 6.5 + 4 * k]


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    for k in range(3):
        F.write_series(
            tmp_path / f"ct{k}",
            CT_SLICES,
            patient_id=f"P{k}",
            study_date=date(2025, 1, 1),
            size=CT_SIZE,
            spacing=CT_SPACING,
        )
        F.write_series(tmp_path / f"mr{k}", 2, patient_id=f"P{k}", modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    assert project.cases.count() == 3  # ingestion makes the cases
    return project


def _member(project, **kwargs):
    profile = ReaderFactory(**kwargs)
    project_member_add(project=project, user=profile.user)
    return profile.user


def _read(case, user, grades, *, submit=True, note="", shown="spine-v1", time_spent_s=61.5):
    assignment = assignment_open(case=case, reader=user)
    for k, (level, grade) in enumerate(zip(LEVELS, grades, strict=True)):
        level_annotation_save(
            assignment=assignment,
            level=level,
            user=user,
            version=None,
            grade=grade,
            box=_box(k),
            note=note if k == 0 else "",
            model_version_shown=shown,
        )
    if submit:
        assignment_submit(assignment=assignment, user=user, time_spent_s=time_spent_s)
    return assignment


@pytest.fixture
def readings(project):
    """Case 1 read by a senior and a junior (submitted), case 2 drafted by the junior (3 levels)."""
    senior = _member(project, username="dr-senior", experience="senior")
    junior = _member(project, username="dr-junior", experience="junior")
    first, second, _ = Case.objects.filter(project=project).order_by("pk")
    _read(first, senior, GRADES["senior"], note="=HYPERLINK(evil) osteophyte")
    _read(first, junior, GRADES["junior"], shown="")
    draft = assignment_open(case=second, reader=junior)
    for level in LEVELS[:3]:
        level_annotation_save(assignment=draft, level=level, user=junior, version=None, grade=1)
    return {"senior": senior, "junior": junior, "case": first, "draft_case": second}


@pytest.fixture
def admin_client():
    client = APIClient()
    client.force_authenticate(ReaderFactory(role="admin", username="boss").user)
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_body(response).decode())))


def test_annotations_csv_has_every_level_with_provenance(project, readings, admin_client):
    response = admin_client.get("/api/exports/projects/spine/annotations.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="spine-annotations.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert len(rows) == 6 + 6 + 3
    case = readings["case"]
    senior = {r["level"]: r for r in rows if r["reader"] == "dr-senior"}
    assert list(senior) == list(LEVELS)
    row = senior["C4/5"]
    assert (
        row["project"] == "spine"
        and row["case_id"] == str(case.pk)
        and row["patient_id"] == case.pair.patient.patient_id
    )
    assert row["ct_study_uid"] == case.pair.ct_study.study_uid
    assert row["mr_study_uid"] == case.pair.mr_study.study_uid
    assert (row["grade"], row["binary"]) == ("2", "true")
    assert [float(row[c]) for c in ("box_x0", "box_y0", "box_x1", "box_y1")] == _box(2)
    assert (row["reader_experience"], row["assignment_status"]) == ("senior", "submitted")
    assert row["submitted_at"] and float(row["time_spent_s"]) == 61.5
    assert (row["model_version_shown"], row["suggestion_shown"], row["blinded"]) == (
        "spine-v1",
        "true",
        "false",
    )
    assert [senior[level]["binary"] for level in LEVELS] == [
        "false",
        "false",
        "true",
        "true",
        "false",
        "false",
    ]
    # A note that a spreadsheet would run as a formula is defused.
    assert senior["C2/3"]["note"] == "'=HYPERLINK(evil) osteophyte"
    junior = [r for r in rows if r["reader"] == "dr-junior" and r["case_id"] == str(case.pk)]
    assert {r["reader_experience"] for r in junior} == {"junior"}
    assert {(r["model_version_shown"], r["suggestion_shown"]) for r in junior} == {("", "false")}
    drafts = [r for r in rows if r["assignment_status"] == "draft"]
    assert len(drafts) == 3 and {r["submitted_at"] for r in drafts} == {""}
    assert all(r["box_x0"] == "" for r in drafts)


def test_annotations_filter_submitted_and_reject_unknown_status(project, readings, admin_client):
    rows = _csv(admin_client.get("/api/exports/projects/spine/annotations.csv?status=submitted"))
    assert len(rows) == 12 and {r["assignment_status"] for r in rows} == {"submitted"}
    bad = admin_client.get("/api/exports/projects/spine/annotations.csv?status=draft")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert admin_client.get("/api/exports/projects/nope/annotations.csv").status_code == 404


def test_annotations_json_matches_csv(project, readings, admin_client):
    response = admin_client.get("/api/exports/projects/spine/annotations.json?status=submitted")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(_body(response))
    assert (document["project"], document["status"]) == ("spine", "submitted")
    annotations = document["annotations"]
    assert len(annotations) == 12 and list(annotations[0]) == document["columns"]
    by_key = {(a["reader"], a["level"]): a for a in annotations}
    senior = by_key[("dr-senior", "C5/6")]
    assert (senior["grade"], senior["binary"], senior["box"]) == (3, True, _box(3))
    assert senior["note"] == "" and by_key[("dr-senior", "C2/3")]["note"].startswith("=HYPERLINK")
    assert by_key[("dr-junior", "C3/4")]["reader_experience"] == "junior"
    assert isinstance(senior["time_spent_s"], float) and senior["submitted_at"]
    empty = json.loads(
        _body(admin_client.get("/api/exports/projects/spine/annotations.json?status=submitted"))
    )
    assert empty["annotations"] == annotations  # the stream is stable


def _export_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200
        _body(response)
    return len(queries)


def test_exports_use_a_bounded_number_of_queries(
    project, readings, admin_client, django_assert_max_num_queries
):
    urls = [
        "/api/exports/projects/spine/annotations.csv",
        "/api/exports/projects/spine/annotations.json",
        "/api/exports/projects/spine/coco.json",
        "/api/exports/projects/spine/model-metrics.csv",
    ]
    before = {url: _export_queries(admin_client, url) for url in urls}
    # Three times the readings, and model versions: the same queries.
    for k in range(3):
        user = _member(project, username=f"extra{k}", experience="senior" if k % 2 else "junior")
        for case in Case.objects.filter(project=project):
            _read(case, user, GRADES["senior"])
        ModelVersion.objects.create(
            project=project, number=k + 1, metrics={"test": {"accuracy": 0.5 + k / 10}}
        )
    after = {url: _export_queries(admin_client, url) for url in urls}
    assert after == before
    for url in [*urls, f"/api/exports/cases/{readings['case'].pk}/sr.dcm"]:
        with django_assert_max_num_queries(6):  # the SR: case, reading, grades, instances
            _body(admin_client.get(url))


def test_coco_boxes_images_and_categories(project, readings, admin_client):
    from ml.imaging import REFORMAT_SPACING_MM, load_ct_volume, sagittal_reformat

    assert selectors.REFORMAT_SPACING_MM == REFORMAT_SPACING_MM
    response = admin_client.get("/api/exports/projects/spine/coco.json")
    assert response.status_code == 200
    coco = response.json()
    assert coco["categories"] == COCO_CATEGORIES and [c["name"] for c in coco["categories"]] == list(LEVELS)
    cases = list(Case.objects.filter(project=project).order_by("pk").select_related("pair__ct_study"))
    assert [i["id"] for i in coco["images"]] == [c.pk for c in cases]
    image = coco["images"][0]
    ct = cases[0].pair.ct_study
    assert image["ct_study_uid"] == ct.study_uid and image["file_name"].startswith(ct.study_uid)
    # The size is the reformat's that the model and the reading view use, from the header alone.
    files = [i.file.path for i in Instance.objects.filter(series__study=ct)]
    reformat = sagittal_reformat(load_ct_volume(files))
    assert (image["height"], image["width"]) == reformat.image.shape
    # Boxes: submitted readings only (two readers of case 1), COCO [x, y, w, h].
    assert len(coco["annotations"]) == 12
    assert {a["image_id"] for a in coco["annotations"]} == {cases[0].pk}
    category = {c["id"]: c["name"] for c in coco["categories"]}
    for a in coco["annotations"]:
        k = LEVELS.index(category[a["category_id"]])
        x0, y0, x1, y1 = _box(k)
        assert a["bbox"] == [x0, y0, x1 - x0, y1 - y0] and a["area"] == (x1 - x0) * (y1 - y0)
        reader = a["attributes"]["reader"]
        assert a["attributes"]["grade"] == GRADES[reader.removeprefix("dr-")][k]
        assert a["attributes"]["binary"] == (a["attributes"]["grade"] >= 2) and a["iscrowd"] == 0
    assert len({a["id"] for a in coco["annotations"]}) == 12


def test_model_metrics_csv_flattens_nested_metrics(project, admin_client):
    ModelVersion.objects.create(
        project=project,
        number=1,
        status=ModelVersion.Status.RETIRED,
        metrics={
            "test": {"accuracy": 0.81, "kappa": {"quadratic": 0.7}},
            "val": {"accuracy": 0.8},
            "confusion": [[1, 0], [0, 1]],
        },
    )
    ModelVersion.objects.create(
        project=project,
        number=2,
        status=ModelVersion.Status.CHAMPION,
        metrics={"test": {"accuracy": 0.88, "binary_accuracy": 0.95}, "n_train": 120},
    )
    ModelVersion.objects.create(project=project, number=3, status=ModelVersion.Status.FAILED, error="boom")
    response = admin_client.get("/api/exports/projects/spine/model-metrics.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = _body(response).decode()
    header = text.splitlines()[0].split(",")
    assert header[:6] == ["number", "label", "status", "created_at", "promoted_at", "error"]
    assert header[6:] == sorted(
        [
            "test.accuracy",
            "test.kappa.quadratic",
            "val.accuracy",
            "confusion",
            "test.binary_accuracy",
            "n_train",
        ]
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == ["1", "2", "3"] and rows[1]["label"] == "spine-v2"
    assert (rows[0]["test.kappa.quadratic"], rows[0]["confusion"]) == ("0.7", "[[1,0],[0,1]]")
    assert (rows[1]["status"], rows[1]["test.binary_accuracy"], rows[1]["val.accuracy"]) == (
        "champion",
        "0.95",
        "",
    )
    assert (rows[2]["error"], rows[2]["test.accuracy"]) == ("boom", "")


def _items(dataset):
    """Every content item of an SR content tree, depth first."""
    for item in getattr(dataset, "ContentSequence", []):
        yield item
        yield from _items(item)


def _name(item) -> str:
    return item.ConceptNameCodeSequence[0].CodeValue


def _level_grades(ds) -> dict[str, int]:
    grades = {}
    for group in (i for i in _items(ds) if i.ValueType == "CONTAINER" and _name(i) == "125007"):
        children = list(group.ContentSequence)
        site = next(c for c in children if _name(c) == "363698007").ConceptCodeSequence[0]
        kang = next(c for c in children if _name(c) == "KANG").ConceptCodeSequence[0]
        assert site.CodingSchemeDesignator == kang.CodingSchemeDesignator == "99SPINE"
        grades[site.CodeMeaning.removesuffix(" disc level")] = int(kang.CodeValue.removeprefix("KANG-"))
    return grades


def test_structured_report_round_trip(project, readings, admin_client):
    case = readings["case"]
    response = admin_client.get(f"/api/exports/cases/{case.pk}/sr.dcm")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    ds = pydicom.dcmread(io.BytesIO(response.content))
    assert ds.SOPClassUID == ComprehensiveSRStorage and ds.Modality == "SR"
    ct, mr = case.pair.ct_study, case.pair.mr_study
    assert ds.StudyInstanceUID == ct.study_uid and ds.PatientID == case.pair.patient.patient_id
    assert (ds.CompletionFlag, ds.VerificationFlag) == ("COMPLETE", "UNVERIFIED")
    # The most recently submitted reading is the junior's.
    assert _level_grades(ds) == dict(zip(LEVELS, GRADES["junior"], strict=True))
    observer = next(i for i in _items(ds) if _name(i) == "128774")  # Person Observer's Login Name
    assert observer.TextValue == "dr-junior"
    # Evidence: every CT instance (current study) and every MR instance (other evidence).
    current = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert current.StudyInstanceUID == ct.study_uid
    ct_sops = {s.ReferencedSOPInstanceUID for s in current.ReferencedSeriesSequence[0].ReferencedSOPSequence}
    assert ct_sops == set(Instance.objects.filter(series__study=ct).values_list("sop_uid", flat=True))
    assert len(ct_sops) == CT_SLICES
    other = ds.PertinentOtherEvidenceSequence[0]
    assert other.StudyInstanceUID == mr.study_uid
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99SPINE"

    senior = admin_client.get(f"/api/exports/cases/{case.pk}/sr.dcm?reader=dr-senior")
    senior_ds = pydicom.dcmread(io.BytesIO(senior.content))
    assert _level_grades(senior_ds) == dict(zip(LEVELS, GRADES["senior"], strict=True))
    assert senior_ds.SOPInstanceUID != ds.SOPInstanceUID
    again = pydicom.dcmread(io.BytesIO(admin_client.get(f"/api/exports/cases/{case.pk}/sr.dcm").content))
    assert again.SOPInstanceUID == ds.SOPInstanceUID  # the same reading re-exported: one copy in a PACS

    # highdicom reads it back as a TID 1500 report too: six measurement groups, one observer.
    import highdicom as hd

    report = hd.sr.ComprehensiveSR.from_dataset(ds).content
    groups = report.get_image_measurement_groups()
    assert len(groups) == 6
    evaluations = groups[2].get_qualitative_evaluations()
    assert [e.value.value for e in evaluations] == ["KANG-2", "373066001"]  # C4/5: grade 2, significant
    assert report.get_observer_contexts()[0].observer_identifying_attributes.login_name == "dr-junior"


def test_structured_report_needs_a_submitted_reading(project, readings, admin_client):
    draft_case = readings["draft_case"]
    response = admin_client.get(f"/api/exports/cases/{draft_case.pk}/sr.dcm")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_reading"
    case = readings["case"]
    unknown = admin_client.get(f"/api/exports/cases/{case.pk}/sr.dcm?reader=nobody")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_reading"
    assert admin_client.get("/api/exports/cases/999999/sr.dcm").status_code == 404


EXPORT_URLS = [
    "/api/exports/projects/spine/annotations.csv",
    "/api/exports/projects/spine/annotations.json",
    "/api/exports/projects/spine/coco.json",
    "/api/exports/projects/spine/model-metrics.csv",
]


def test_only_admins_export(project, readings):
    case = readings["case"]
    urls = [*EXPORT_URLS, f"/api/exports/cases/{case.pk}/sr.dcm"]
    reader = APIClient()
    reader.force_authenticate(readings["senior"])
    for url in urls:
        denied = reader.get(url)
        assert denied.status_code == 403, url
        assert denied.json()["error"]["code"] == "permission_denied"
        assert APIClient().get(url).status_code == 401, url
        # A client asking for the file type still gets a JSON error body.
        assert reader.get(url, HTTP_ACCEPT="text/csv").status_code == 403


def test_token_client_asking_for_csv_gets_it(project, readings):
    from rest_framework.authtoken.models import Token

    admin = ReaderFactory(role="admin")
    token = Token.objects.create(user=admin.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(EXPORT_URLS[0], HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and len(_csv(response)) == 15
    sr = client.get(f"/api/exports/cases/{readings['case'].pk}/sr.dcm", HTTP_ACCEPT="application/dicom")
    assert sr.status_code == 200 and pydicom.dcmread(io.BytesIO(sr.content)).Modality == "SR"
