"""The senior's adjudication screen and the admin's case history, in a real browser."""

import pytest

from backend.learning.models import AdjudicationItem, ReferenceLabel
from backend.learning.services import reference_labels_update
from tests.backend.test_adjudication import _case, _champion, _member, _read
from tests.e2e.pages import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def disputed():
    """A case two juniors and a senior read, disagreeing by 3 grades at C5/6; the model says 2."""
    from backend.projects.services import project_create

    project = project_create(name="Adjudication", slug="adj", reference_share=0.0)
    case = _case(project, 1)
    _champion(project, [case], grade=2)
    senior = _member(project, username="dr-senior", experience="senior")
    junior = _member(project, username="dr-junior", experience="junior")
    admin = _member(project, username="dr-admin", experience="junior", role="admin")
    grades = {"C2/3": 0, "C3/4": 0, "C4/5": 0, "C5/6": 0, "C6/7": 0, "C7/T1": 0}
    _read(case, senior, grades)
    _read(case, junior, {**grades, "C5/6": 3})
    reference_labels_update(project=project)
    assert AdjudicationItem.objects.filter(case=case, level="C5/6", reason="readers_disagree").exists()
    return case, senior, admin


def test_a_senior_resolves_an_adjudication_item_and_sees_the_reference_label(live_server, page, disputed):
    case, senior, _ = disputed
    item = AdjudicationItem.objects.get(case=case, level="C5/6", reason="readers_disagree")
    log_in(page, live_server, senior.user.username)
    page.get_by_test_id("adjudication-link").click()
    row = page.get_by_test_id(f"adjudication-{item.pk}")
    row.wait_for()
    assert "dr-senior: 0" in row.get_by_test_id("reader-grades").inner_text()
    assert "dr-junior: 3" in row.get_by_test_id("reader-grades").inner_text()
    assert row.get_by_test_id("model-grade").inner_text().startswith("2 (")
    assert row.get_by_role("button", name="Resolve").is_disabled(), "a decision needs a grade and a reason"
    row.get_by_label("grade").select_option("2")
    row.get_by_label("reason").fill("cord flattened at C5/6")
    row.get_by_role("button", name="Resolve").click()
    row.get_by_test_id("resolution").wait_for()
    assert row.get_by_test_id("reference-grade").inner_text() == "2"
    item.refresh_from_db()
    assert (item.status, item.resolved_grade, item.note) == ("resolved", 2, "cord flattened at C5/6")
    assert ReferenceLabel.objects.get(case=case, level="C5/6").grade == 2
    assert not page.page_errors


def test_an_admin_sees_a_cases_history(live_server, page, disputed):
    case, _, admin = disputed
    log_in(page, live_server, admin.user.username)
    page.goto(f"{live_server.url}/cases/{case.pk}/history")
    table = page.get_by_test_id("case-history")
    table.wait_for()
    submits = page.get_by_test_id("history-reading-submit")
    assert submits.count() == 2
    assert "dr-junior" in submits.nth(1).inner_text() or "dr-junior" in submits.nth(0).inner_text()
    opened = page.get_by_test_id("history-adjudication-open").filter(has_text="readers_disagree")
    assert opened.count() == 1 and "C5/6" in opened.inner_text()
    grades = page.get_by_test_id("history-annotation-create")
    assert grades.count() == 12 and "grade" in grades.first.inner_text()
    assert not page.page_errors
