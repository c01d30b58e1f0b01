"""Lower apps announce, higher apps answer (README: Architecture / layers): an ingest into a project
makes its cases and wakes pre-annotation on commit; a submitted reading queues the learning loop."""

from datetime import date

import pytest

from backend.common.levels import LEVELS
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning import receivers as learning_receivers
from backend.learning.services import preannotation_wake
from backend.learning.tasks import labels_submitted
from backend.projects.services import project_create, project_member_add
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(learning_receivers, "task_send", lambda task, *args, **kw: calls.append((task, args)))
    return calls


def ingest(project, folder, django_capture_on_commit_callbacks):
    if not (folder / "ct").exists():
        F.write_series(folder / "ct", 1, patient_id="P1", study_date=date(2025, 1, 1))
        F.write_series(folder / "mr", 1, patient_id="P1", modality="MR", study_date=date(2025, 1, 5))
    with django_capture_on_commit_callbacks() as callbacks:
        job = ingest_job_run(
            job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
            paths=sorted(folder.rglob("*.dcm")),
        )
    return job, callbacks


def test_an_ingest_into_a_project_makes_its_cases_and_wakes_preannotation_on_commit(
    tmp_path, django_capture_on_commit_callbacks
):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    job, callbacks = ingest(project, tmp_path, django_capture_on_commit_callbacks)
    assert job.status == IngestJob.Status.DONE and job.stored == 2
    assert project.cases.count() == 1
    assert callbacks == [preannotation_wake]

    again, callbacks = ingest(project, tmp_path, django_capture_on_commit_callbacks)
    assert (again.stored, again.duplicates) == (0, 2)
    assert callbacks == [], "nothing new stored: nothing to pre-annotate"


def test_a_submitted_reading_queues_the_learning_loop_on_commit_unless_told_not_to(
    tmp_path, sent, django_capture_on_commit_callbacks
):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    ingest(project, tmp_path, django_capture_on_commit_callbacks)
    case = project.cases.get()
    for notify, reader in ((True, ReaderFactory()), (False, ReaderFactory())):
        project_member_add(project=project, user=reader.user)
        assignment = assignment_open(case=case, reader=reader.user)
        for level in LEVELS:
            level_annotation_save(assignment=assignment, level=level, user=reader.user, version=None, grade=1)
        with django_capture_on_commit_callbacks(execute=True):
            assignment_submit(assignment=assignment, user=reader.user, notify_learning=notify)
    assert sent == [(labels_submitted, (project.pk,))]
