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
    assert page.get_by_test_id("worklist-empty").is_visible()

    page.reload()
    assert "dr-lee" in page.get_by_test_id("current-user").inner_text(), "the session survives a reload"
    assert not page.page_errors
