import pytest

from tests.backend.factories import DEFAULT_PASSWORD, ReaderFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_reader_logs_in_through_the_login_page_and_sees_the_worklist(live_server, page):
    ReaderFactory(username="dr-lee", experience="senior")
    page.goto(f"{live_server.url}/worklist")
    page.wait_for_url("**/login")
    page.fill("input[name=username]", "dr-lee")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."

    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/worklist")
    assert "dr-lee" in page.get_by_test_id("worklist-greeting").inner_text()
    assert "senior reader" in page.get_by_test_id("worklist-greeting").inner_text()
    page.get_by_test_id("worklist-empty").wait_for(state="visible")  # after the worklist request

    page.reload()
    assert "dr-lee" in page.get_by_test_id("current-user").inner_text(), "the session survives a reload"
    assert not page.page_errors


def test_the_worklist_lists_the_readers_cases_next_first(live_server, page, tmp_path):
    from datetime import date

    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.projects.services import project_create, project_member_add
    from backend.reading.models import Case
    from backend.reading.services import case_sync_for_project
    from tests.backend import dicom_files as F

    project = project_create(name="Spine", slug="spine")
    for k in range(2):
        F.write_series(tmp_path / f"ct{k}", 1, patient_id=f"E2E-{k}", study_date=date(2025, 1, 1))
        F.write_series(
            tmp_path / f"mr{k}", 1, patient_id=f"E2E-{k}", modality="MR", study_date=date(2025, 1, 2)
        )
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    case_sync_for_project(project=project)
    reader = ReaderFactory(username="dr-kim")
    project_member_add(project=project, user=reader.user)

    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", "dr-kim")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/worklist")
    assert page.get_by_test_id("worklist-counts").inner_text() == "0 done, 2 remaining"
    rows = page.locator("[data-testid=worklist-cases] tbody tr")
    assert rows.count() == 2
    first = Case.objects.order_by("-priority").first()
    assert rows.nth(0).locator("td").nth(0).inner_text() == str(first.pk)
    assert "(next)" in rows.nth(0).inner_text()
    assert page.get_by_test_id("page-range").inner_text() == "1-2 of 2"

    # Search by patient and filter by status; the filters live in the address, so a reload keeps them.
    page.get_by_test_id("search").fill("e2e-1")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/worklist?search=e2e-1")
    page.get_by_test_id("page-range").filter(has_text="1-1 of 1").wait_for()
    assert "E2E-1" in rows.nth(0).inner_text()
    page.get_by_test_id("filter-status").select_option("submitted")
    page.get_by_test_id("worklist-empty").wait_for()
    assert page.get_by_test_id("worklist-empty").inner_text() == "No case matches these filters."
    page.reload()
    page.get_by_test_id("worklist-empty").wait_for()
    assert page.get_by_test_id("filter-status").input_value() == "submitted"
    assert page.get_by_test_id("worklist-counts").inner_text() == "0 done, 2 remaining"
    assert not page.page_errors
