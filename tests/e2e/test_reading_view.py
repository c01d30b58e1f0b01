"""The reading view in real Chromium: images from DICOMweb, level navigation, grading by keys, submit."""

import pytest

from backend.projects.services import project_member_add
from backend.reading.models import Assignment, Case, LevelAnnotation
from tests.backend.factories import DEFAULT_PASSWORD, ReaderFactory
from tests.backend.reading_data import synthetic_reading_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
LEVELS = ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]

# How much of a viewport's canvas is image: pixels that are not black, and how many grey values.
CANVAS_STATS = """(testId) => {
  const canvas = document.querySelector(`[data-testid=${testId}] canvas`);
  if (!canvas || !canvas.width) return {lit: 0, values: 0};
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let lit = 0; const values = new Set();
  for (let i = 0; i < data.length; i += 4) { if (data[i] + data[i+1] + data[i+2] > 30) lit++; values.add(data[i]); }
  return {lit: lit / (data.length / 4), values: values.size};
}"""


def reader_in(project, username: str):
    reader = ReaderFactory(username=username)
    project_member_add(project=project, user=reader.user)
    return reader


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/worklist")


def wait_until_loaded(page) -> None:
    page.locator("[data-testid=reading-view][data-status=ready]").wait_for(timeout=30_000)


def current_level(page) -> str:
    return page.get_by_test_id("current-level").get_attribute("data-level")


def test_a_reader_grades_a_case_by_keyboard_and_the_next_case_opens(live_server, page, tmp_path):
    project, manifest = synthetic_reading_project(tmp_path, patients=2)
    reader = reader_in(project, "dr-ito")
    log_in(page, live_server, "dr-ito")
    first, second = Case.objects.order_by("-priority", "pk").values_list("pk", flat=True)

    with page.expect_response(f"**/api/reading/cases/{first}/") as response_info:
        page.get_by_test_id(f"case-row-{first}").focus()
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/read/{first}")
    detail = response_info.value.json()
    positions = detail["level_positions"]["levels"]
    wait_until_loaded(page)

    for viewport in ("ctAxial", "mrAxial", "ctSagittal", "mrSagittal"):
        stats = page.evaluate(CANVAS_STATS, f"viewport-{viewport}")
        assert stats["lit"] > 0.05 and stats["values"] > 20, (viewport, stats)  # real image, not blank
    timings = page.evaluate("window.__readingTimings")
    assert timings["caseId"] == first and timings["openedAt"] < timings["ctFirstImage"] <= timings["allLoaded"]

    page.keyboard.press("?")
    assert "next level" in page.get_by_test_id("help").inner_text()
    page.keyboard.press("Escape")
    assert page.get_by_test_id("help").count() == 0

    # jump three levels down by key: both stacks follow, each to its own image of that level
    assert current_level(page) == "C2/3"
    for _ in range(3):
        page.keyboard.press("j")
    assert current_level(page) == "C5/6"
    ct_count = page.get_by_test_id("slice-ctAxial").inner_text().split("/")[1]
    page.wait_for_function(
        "([ct, mr]) => document.querySelector('[data-testid=slice-ctAxial]').textContent === ct"
        " && document.querySelector('[data-testid=slice-mrAxial]').textContent === mr",
        arg=[f"{positions[3]['ct_index'] + 1}/{ct_count}", f"{positions[3]['mr_index'] + 1}/6"],
    )
    assert positions[3]["ct_source"] == "model" and positions[3]["mr_source"] == "disc_aligned"

    # the model's suggestion: grade, confidence and its box on the CT sagittal, hidden with h
    truth = {level["level"]: level for level in manifest["patients"][0]["levels"]}
    patient = next(p for p in manifest["patients"] if p["ct"]["study_uid"] == detail["ct_study_uid"])
    truth = {level["level"]: level for level in patient["levels"]}
    assert f"grade {truth['C5/6']['grade']}" in page.get_by_test_id("suggestion").inner_text()
    assert "85% confidence" in page.get_by_test_id("suggestion").inner_text()
    assert page.get_by_test_id("suggestion-box").count() == 1
    page.keyboard.press("h")
    assert page.get_by_test_id("suggestion").count() == 0 and page.get_by_test_id("suggestion-box").count() == 0
    page.keyboard.press("h")
    page.keyboard.press("a")  # the model's box becomes the reader's ROI at C5/6
    page.get_by_test_id("reader-box").wait_for()
    page.keyboard.press("n")
    page.keyboard.type("ligamentum flavum thick")
    page.keyboard.press("Escape")

    for _ in range(3):
        page.keyboard.press("ArrowUp")
    grades = [0, 1, 2, 3, 1]
    for grade in grades:  # five of six levels
        page.keyboard.press(str(grade))
        page.keyboard.press("ArrowDown")
    page.keyboard.press("s")
    assert "missing: C7/T1" in page.get_by_test_id("message").inner_text()
    assert current_level(page) == "C7/T1" and page.url.endswith(f"/read/{first}")
    page.keyboard.press("0")
    page.wait_for_timeout(300)  # a person needs a moment too: time spent is more than zero
    page.keyboard.press("s")
    page.wait_for_url(f"**/read/{second}")
    wait_until_loaded(page)

    assignment = Assignment.objects.get(case_id=first, reader=reader.user)
    assert assignment.status == "submitted" and 0 < assignment.time_spent_s < 120
    saved = {a.level: a for a in LevelAnnotation.objects.filter(assignment=assignment)}
    assert [saved[level].grade for level in LEVELS] == [*grades, 0]
    assert {a.model_version_shown for a in saved.values()} == {"spine-v1"}
    assert all(a.suggestion_shown for a in saved.values())
    assert saved["C5/6"].box == pytest.approx(truth["C5/6"]["roi_sagittal"])
    assert saved["C5/6"].note == "ligamentum flavum thick"
    assert not page.page_errors
