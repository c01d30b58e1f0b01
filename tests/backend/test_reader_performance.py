"""Reader performance against the reference labels: each reader and each experience group, 4 grades and binary,
with bootstrap intervals; never against a reference made of the reader's own grade."""

import csv
import io

import pytest
from rest_framework.test import APIClient
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.learning.models import AdjudicationItem
from backend.learning.performance_selectors import METRICS, reader_performance
from backend.learning.services import adjudication_resolve, reference_labels_update
from backend.projects.models import AuditEntry
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

# Case A is in the frozen reference set and read by all three readers; B by the first junior alone; C by the
# senior and the first junior (C2/3 adjudicated by a second senior); D by the senior and the second junior
# (C2/3 adjudicated by the senior who read it).
READINGS = {
    "A": {"senior": [0, 1, 2, 3, 1, 0], "junior1": [0, 1, 1, 3, 2, 0], "junior2": [1, 1, 2, 2, 1, 0]},
    "B": {"junior1": [2, 2, 2, 2, 2, 2]},
    "C": {"senior": [3, 0, 0, 0, 0, 0], "junior1": [1, 0, 0, 0, 0, 1]},
    "D": {"senior": [0, 2, 2, 2, 2, 2], "junior2": [3, 2, 2, 2, 2, 2]},
}
# What each reader is scored against, by hand: the adjudicated grade where someone else decided it, else
# the other readers' consensus (seniors outvote juniors, a tie goes up); B has no one else.
EXPECTED = {
    "senior": {"A": [1, 1, 2, 3, 2, 0], "C": [2, 0, 0, 0, 0, 1], "D": [3, 2, 2, 2, 2, 2]},
    "junior1": {"A": [0, 1, 2, 3, 1, 0], "C": [2, 0, 0, 0, 0, 0]},
    "junior2": {"A": [0, 1, 2, 3, 1, 0], "D": [1, 2, 2, 2, 2, 2]},
}


@pytest.fixture
def study():
    project = project_create(name="Readers", slug="readers", blinded_share=0.0)
    cases = {}
    for name in READINGS:
        patient = Patient.objects.create(patient_id=f"P-{name}")
        ct = Study.objects.create(study_uid=f"1.2.3.{ord(name)}.1", patient=patient, modality="CT")
        mr = Study.objects.create(study_uid=f"1.2.3.{ord(name)}.2", patient=patient, modality="MR")
        pair = StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
        cases[name] = Case.objects.create(project=project, pair=pair, in_reference_set=name == "A")
    users = {}
    for name, experience in (
        ("senior", "senior"),
        ("junior1", "junior"),
        ("junior2", "junior"),
        ("adjudicator", "senior"),
    ):
        users[name] = ReaderFactory(username=f"dr-{name}", experience=experience).user
        project_member_add(project=project, user=users[name])
    for case_name, readers in READINGS.items():
        for reader, grades in readers.items():
            assignment = assignment_open(case=cases[case_name], reader=users[reader])
            for level, grade in zip(LEVELS, grades, strict=True):
                level_annotation_save(
                    assignment=assignment, level=level, user=users[reader], version=None, grade=grade
                )
            assignment_submit(assignment=assignment, user=users[reader], notify_learning=False)
    reference_labels_update(project=project)
    items = {i.case_id: i for i in AdjudicationItem.objects.filter(case__project=project)}
    assert set(items) == {cases["C"].pk, cases["D"].pk}
    adjudication_resolve(item=items[cases["C"].pk], user=users["adjudicator"], grade=2)
    adjudication_resolve(item=items[cases["D"].pk], user=users["senior"], grade=1)
    reference_labels_update(project=project)
    return project, users


def expected_scores(reader: str, cases: list[str]) -> dict[str, dict[str, float]]:
    truth = [g for c in cases if c in EXPECTED[reader] for g in EXPECTED[reader][c]]
    given = [g for c in cases if c in EXPECTED[reader] for g in READINGS[c][reader]]
    out = {}
    for task, labels, cut in (
        ("4grade", [0, 1, 2, 3], lambda g: g),
        ("binary", [0, 1], lambda g: int(g >= 2)),
    ):
        t, p = [cut(g) for g in truth], [cut(g) for g in given]
        out[task] = {
            "accuracy": accuracy_score(t, p),
            "macro_f1": f1_score(t, p, labels=labels, average="macro", zero_division=0),
            "kappa": cohen_kappa_score(t, p, labels=labels),
            "kappa_quadratic": cohen_kappa_score(t, p, labels=labels, weights="quadratic"),
        }
    return out


def by_task(entry: dict) -> dict[str, dict]:
    return {t["task"]: t for t in entry["tasks"]}


def test_each_reader_is_scored_against_the_others_or_another_adjudicator_never_their_own_grade(study):
    project, users = study
    body = reader_performance(project=project, n_boot=200)
    scopes = {s["scope"]: s for s in body["scopes"]}
    readers = {r["reader"].removeprefix("dr-"): r for r in scopes["all"]["readers"]}
    assert set(readers) == {"senior", "junior1", "junior2"}, "the adjudicator read nothing"
    assert {r: (e["levels"], e["cases"], e["own_reference_levels"]) for r, e in readers.items()} == {
        "senior": (18, 3, 0),
        "junior1": (12, 2, 6),
        "junior2": (12, 2, 0),
    }, "case B rests on junior1's grades alone: left out, not a perfect score"
    for reader, entry in readers.items():
        expected = expected_scores(reader, ["A", "B", "C", "D"])
        for task, scores in by_task(entry).items():
            for metric, value in expected[task].items():
                assert scores[metric]["value"] == pytest.approx(value, abs=1e-4), (reader, task, metric)
                low, high = scores[metric]["ci95"]
                assert low is None or low <= high, (reader, task, metric)

    reference = {r["reader"].removeprefix("dr-"): r for r in scopes["reference_set"]["readers"]}
    assert {r: e["levels"] for r, e in reference.items()} == {"senior": 6, "junior1": 6, "junior2": 6}
    for reader, entry in reference.items():
        assert by_task(entry)["4grade"]["accuracy"]["value"] == pytest.approx(
            expected_scores(reader, ["A"])["4grade"]["accuracy"], abs=1e-4
        )

    groups = {g["group"]: g for g in scopes["all"]["groups"]}
    assert (groups["junior"]["readers"], groups["junior"]["levels"], groups["junior"]["cases"]) == (2, 24, 3)
    assert groups["junior"]["own_reference_levels"] == 6
    pooled_truth = (
        EXPECTED["junior1"]["A"]
        + EXPECTED["junior1"]["C"]
        + EXPECTED["junior2"]["A"]
        + EXPECTED["junior2"]["D"]
    )
    pooled_given = (
        READINGS["A"]["junior1"]
        + READINGS["C"]["junior1"]
        + READINGS["A"]["junior2"]
        + READINGS["D"]["junior2"]
    )
    kappa = by_task(groups["junior"])["4grade"]["kappa_quadratic"]
    assert kappa["value"] == pytest.approx(
        cohen_kappa_score(pooled_truth, pooled_given, weights="quadratic"), abs=1e-4
    )
    assert kappa["ci95"][0] <= kappa["value"] <= kappa["ci95"][1]
    assert groups["senior"]["readers"] == 1 and groups["senior"]["levels"] == 18
    (contrast,) = scopes["all"]["contrasts"]
    assert (contrast["a"], contrast["b"]) == ("senior", "junior")
    senior, junior = by_task(groups["senior"]), by_task(groups["junior"])
    for task, scores in by_task(contrast).items():
        for metric in METRICS:
            expected = senior[task][metric]["value"] - junior[task][metric]["value"]
            assert scores[metric]["value"] == pytest.approx(expected, abs=2e-4), (task, metric)


def test_the_dashboard_and_the_csv_give_the_same_figures_to_admins_only(study):
    project, users = study
    admin = APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    body = admin.get(f"/api/dashboard/projects/{project.slug}/reader-performance/").json()
    assert [s["scope"] for s in body["scopes"]] == ["all", "reference_set"] and body["n_boot"] == 1000
    senior = next(r for r in body["scopes"][0]["readers"] if r["reader"] == "dr-senior")
    expected = expected_scores("senior", ["A", "C", "D"])
    assert by_task(senior)["binary"]["macro_f1"]["value"] == pytest.approx(
        expected["binary"]["macro_f1"], abs=1e-4
    )

    response = admin.get(
        f"/api/exports/projects/{project.slug}/reader-performance.csv", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200 and response["Content-Disposition"].endswith('reader-performance.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert len(rows) == 2 * (2 + 3 + 1) * 2, (
        "per scope: two groups, three readers and their difference, two tasks"
    )
    row = next(r for r in rows if (r["scope"], r["name"], r["task"]) == ("all", "dr-senior", "binary"))
    assert float(row["macro_f1"]) == pytest.approx(expected["binary"]["macro_f1"], abs=1e-4)
    assert float(row["macro_f1_ci_low"]) <= float(row["macro_f1"]) <= float(row["macro_f1_ci_high"])
    assert (row["kind"], row["experience"], row["levels"], row["own_reference_levels"]) == (
        "reader",
        "senior",
        "18",
        "0",
    )
    assert (
        AuditEntry.objects.filter(action="export.download", details__export="reader-performance.csv").count()
        == 1
    )
    group = next(
        r for r in rows if (r["scope"], r["name"], r["task"]) == ("reference_set", "junior", "4grade")
    )
    assert (group["kind"], group["readers"], group["levels"]) == ("group", "2", "12")
    contrast = next(r for r in rows if (r["scope"], r["kind"], r["task"]) == ("all", "contrast", "4grade"))
    assert contrast["name"] == "senior - junior" and contrast["levels"] == ""

    elsewhere = APIClient()
    other_admin = ReaderFactory().user
    project_member_add(project=project_create(name="Other", slug="other"), user=other_admin, role="admin")
    elsewhere.force_authenticate(other_admin)
    member = APIClient()
    member.force_authenticate(users["junior1"])
    for path in (
        f"/api/dashboard/projects/{project.slug}/reader-performance/",
        f"/api/exports/projects/{project.slug}/reader-performance.csv",
    ):
        assert APIClient().get(path).status_code == 401
        assert member.get(path).status_code == 403, "a reader of the project"
        assert elsewhere.get(path).status_code == 404, "an admin of another project"


def test_a_project_without_reference_labels_answers_empty_scopes():
    project = project_create(name="Empty", slug="empty", blinded_share=0.0)
    body = reader_performance(project=project)
    assert [(s["scope"], s["reference_levels"], s["readers"], s["groups"]) for s in body["scopes"]] == [
        ("all", 0, [], []),
        ("reference_set", 0, [], []),
    ]
