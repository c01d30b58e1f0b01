"""The reading view in real Chromium: images from DICOMweb, level navigation, grading by keys, submit."""

import pytest

from backend.projects.services import project_member_add
from backend.reading.models import Assignment, Case, LevelAnnotation
from tests.backend.factories import ReaderFactory
from tests.backend.reading_data import synthetic_reading_project
from tests.e2e.pages import log_in

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


def wait_until_loaded(page) -> None:
    page.locator("[data-testid=reading-view][data-status=ready]").wait_for(timeout=30_000)


def current_level(page) -> str:
    return page.get_by_test_id("current-level").get_attribute("data-level")


def one_case_project(tmp_path):
    """One synthetic patient (128 px) as one case, no model."""
    project, manifest = synthetic_reading_project(tmp_path, patients=1, champion=False, image_size=128)
    return project, Case.objects.get(project=project), manifest


def open_case(live_server, page, project, case, username: str) -> None:
    """A new reader of the project opens the case and waits for its images."""
    reader_in(project, username)
    log_in(page, live_server, username)
    page.goto(f"{live_server.url}/read/{case.pk}")
    wait_until_loaded(page)


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
    assert (
        timings["caseId"] == first and timings["openedAt"] < timings["ctFirstImage"] <= timings["allLoaded"]
    )

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
    # beside the reader's canal caliper, the model's own reading of the canal
    assert (
        page.get_by_test_id("model-canal-ap").inner_text().strip()
        == f"(model {truth['C5/6']['canal_ap_mm']:.1f} mm)"
    )
    page.keyboard.press("h")
    assert (
        page.get_by_test_id("suggestion").count() == 0 and page.get_by_test_id("suggestion-box").count() == 0
    )
    assert page.get_by_test_id("model-canal-ap").count() == 0
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
    page.keyboard.press("h")  # C7/T1 is graded with the suggestion hidden, and recorded so
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
    assert {level: saved[level].display for level in LEVELS} == {
        **dict.fromkeys(LEVELS, "shown"),
        "C7/T1": "hidden",
    }
    assert [saved[level].suggestion_shown for level in LEVELS] == [True] * 5 + [False]
    assert saved["C5/6"].box == pytest.approx(truth["C5/6"]["roi_sagittal"])
    assert saved["C5/6"].note == "ligamentum flavum thick"
    assert not page.page_errors


def test_a_blinded_case_sends_no_suggestion_to_the_browser(live_server, page, tmp_path):
    project, _ = synthetic_reading_project(tmp_path, patients=1)
    case = Case.objects.get(project=project)
    Case.objects.filter(pk=case.pk).update(blinded=True)
    reader = reader_in(project, "dr-blind")
    log_in(page, live_server, "dr-blind")

    with page.expect_response(f"**/api/reading/cases/{case.pk}/") as response_info:
        page.goto(f"{live_server.url}/read/{case.pk}")
    body = response_info.value.json()
    assert body["suggestions"] == {"blinded": True, "levels": []}
    levels = body["level_positions"]["levels"]
    assert {p["ct_source"] for p in levels} <= {"finder", "even"}, "nothing from the model on a blinded case"
    assert all(p["ct_position"] is None or p["ct_position"]["source"] == "finder" for p in levels)
    wait_until_loaded(page)
    assert page.evaluate(CANVAS_STATS, "viewport-ctAxial")["lit"] > 0.05
    panel = page.locator(".reading-panel").inner_text()
    assert "model" not in panel.lower() and "suggestion" not in panel.lower()
    for test_id in ("suggestion", "no-suggestion", "suggestion-box"):
        assert page.get_by_test_id(test_id).count() == 0
    page.keyboard.press("a")  # nothing to take
    page.keyboard.press("2")
    page.get_by_test_id("save-state").filter(has_text="saved").wait_for()
    annotation = LevelAnnotation.objects.get(assignment__reader=reader.user, level="C2/3")
    assert (
        annotation.grade,
        annotation.box,
        annotation.model_version_shown,
        annotation.suggestion_shown,
        annotation.display,
    ) == (
        2,
        None,
        "",
        False,
        "blinded",
    )
    assert not page.page_errors


def test_a_second_reader_sees_none_of_the_first_readers_grades(live_server, page, tmp_path):
    from backend.reading.services import assignment_open, level_annotation_save

    project, _ = synthetic_reading_project(tmp_path, patients=1, champion=False)
    case = Case.objects.get(project=project)
    first = reader_in(project, "dr-first")
    assignment = assignment_open(case=case, reader=first.user)
    for level in LEVELS:
        level_annotation_save(
            assignment=assignment, level=level, user=first.user, version=None, grade=3, note="first"
        )
    second = reader_in(project, "dr-second")
    log_in(page, live_server, "dr-second")
    assert page.get_by_test_id(f"case-row-{case.pk}").locator("td").nth(3).inner_text() == "new (next)"

    with page.expect_response(f"**/api/reading/cases/{case.pk}/") as response_info:
        page.keyboard.press("Enter")  # Enter on the worklist opens the next case
    page.wait_for_url(f"**/read/{case.pk}")
    assert response_info.value.json()["annotations"] == []
    wait_until_loaded(page)
    assert [page.get_by_test_id(f"grade-{level.replace('/', '-')}").inner_text() for level in LEVELS] == [
        "–"
    ] * 6
    assert "first" not in page.locator(".reading-panel").inner_text()
    assert page.get_by_test_id("no-suggestion").inner_text() == "No model suggestion yet"

    # the second reader's own draft, changed meanwhile in another tab: 409, told, reloaded
    page.keyboard.press("1")
    page.get_by_test_id("save-state").filter(has_text="saved").wait_for()
    mine = assignment_open(case=case, reader=second.user)
    level_annotation_save(
        assignment=mine, level="C2/3", user=second.user, version=1, grade=0, note="other tab"
    )
    page.keyboard.press("2")
    assert "changed elsewhere" in page.get_by_test_id("message").inner_text()
    page.wait_for_function("document.querySelector('[data-testid=grade-C2-3]').textContent === '0'")
    assert page.get_by_test_id("note").input_value() == "other tab"
    assert LevelAnnotation.objects.get(assignment=mine, level="C2/3").grade == 0
    assert set(LevelAnnotation.objects.filter(assignment=assignment).values_list("grade", flat=True)) == {3}
    assert not page.page_errors


LINE_Y = """(level) => {
  const cell = document.querySelector('[data-testid=viewport-ctSagittal]').parentElement;
  const line = cell.querySelector(`svg.level-overlay g[data-level="${level}"] line`);
  return line ? (Number(line.getAttribute('y1')) + Number(line.getAttribute('y2'))) / 2 : null;
}"""


def test_a_reader_moves_a_level_line_with_the_keyboard_and_places_a_missing_one(live_server, page, tmp_path):
    from backend.reading.models import LevelPosition

    project, case, _ = one_case_project(tmp_path)
    LevelPosition.objects.filter(study=case.pair.ct_study, level="C7/T1").delete()  # one the finder missed
    open_case(live_server, page, project, case, "dr-lines")
    page.wait_for_function(f"({LINE_Y})('C2/3') !== null")
    before = page.evaluate(LINE_Y, "C2/3")

    with page.expect_response(
        lambda r: r.url.endswith("/levels/C2-3/position/") and r.request.method == "PUT"
    ) as moved:
        page.keyboard.press("]")  # down the spine by 1 mm
    assert moved.value.status == 200
    level = moved.value.json()["levels"][0]
    assert level["ct_source"] == "reader" and level["ct_position"]["source"] == "reader"
    page.wait_for_function(f"({LINE_Y})('C2/3') > {before}")
    row = LevelPosition.objects.filter(study=case.pair.ct_study, level="C2/3", source="reader").get()
    finder = LevelPosition.objects.filter(study=case.pair.ct_study, level="C2/3", source="finder").first()
    assert row.author.username == "dr-lines" and row.case_id == case.pk
    assert abs((finder.centre[2] - row.centre[2]) - 1.0) < 0.1, "1 mm down along the disc's normal"

    for _ in range(5):
        page.keyboard.press("j")
    assert current_level(page) == "C7/T1"
    assert "C7/T1 was not found on CT" in page.get_by_test_id("level-unplaced").inner_text()
    with page.expect_response(lambda r: r.url.endswith("/levels/C7-T1/position/")) as placed:
        page.keyboard.press("p")
    assert placed.value.json()["levels"][5]["ct_source"] == "reader"
    assert page.get_by_test_id("level-unplaced").count() == 0
    assert not page.page_errors


def test_a_reader_drags_the_current_level_line_down_the_spine(live_server, page, tmp_path):
    from backend.reading.models import LevelPosition

    project, case, _ = one_case_project(tmp_path)
    open_case(live_server, page, project, case, "dr-drag")
    page.keyboard.press("j")  # C3/4
    grip = page.locator("[data-testid=viewport-ctSagittal] ~ svg [data-testid=level-grip]")
    if grip.count() == 0:
        grip = page.get_by_test_id("level-grip").first
    box = grip.bounding_box()
    assert box, "the current level's line has a grip"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with page.expect_response(
        lambda r: r.url.endswith("/levels/C3-4/position/") and r.request.method == "PUT"
    ) as moved:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y + 10, steps=5)
        page.mouse.move(x, y + 20, steps=5)
        page.mouse.up()
    assert moved.value.status == 200
    assert moved.value.json()["levels"][1]["ct_source"] == "reader"
    finder = LevelPosition.objects.filter(study=case.pair.ct_study, level="C3/4", source="finder").first()
    dragged = LevelPosition.objects.get(study=case.pair.ct_study, level="C3/4", source="reader")
    assert dragged.centre[2] < finder.centre[2] - 1.0, "dragged down: inferiorly"
    assert not page.page_errors


def test_a_caliper_on_the_ct_sagittal_is_stored_in_patient_mm(live_server, page, tmp_path):
    import math

    import numpy as np

    from backend.imaging.models import Instance, Series

    project, case, _ = one_case_project(tmp_path)
    open_case(live_server, page, project, case, "dr-caliper")
    page.wait_for_timeout(500)  # the volume's first render
    canvas = page.locator("[data-testid=viewport-ctSagittal] canvas").first.bounding_box()
    x0, y0 = canvas["x"] + canvas["width"] * 0.45, canvas["y"] + canvas["height"] * 0.5
    with page.expect_response(lambda r: "/levels/" in r.url and r.request.method == "PUT") as saved:
        page.keyboard.down("Control")
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + 30, y0 + 5, steps=6)
        page.mouse.move(x0 + 60, y0 + 10, steps=6)
        page.mouse.up()
        page.keyboard.up("Control")
    assert saved.value.status == 200, saved.value.text()
    canal = saved.value.json()["measurements"]["canal_ap"]
    assert abs(canal["mm"] - math.dist(*canal["points"])) <= 0.1
    # Patient space: inside the CT volume, on one sagittal plane (the same x), within the body's depth.
    series = Series.objects.get(study=case.pair.ct_study)
    corners = np.array(list(Instance.objects.filter(series=series).values_list("image_position", flat=True)))
    spacing = [float(v) for v in series.pixel_spacing]  # row (y) and column (x) spacing
    low = corners.min(axis=0)
    high = corners.max(axis=0) + [series.columns * spacing[1], series.rows * spacing[0], 0]
    for point in canal["points"]:
        assert all(low[k] - 0.5 <= point[k] <= high[k] + 0.5 for k in range(3)), (point, low, high)
    assert abs(canal["points"][0][0] - canal["points"][1][0]) < 0.5, "drawn on one sagittal plane"
    assert canal["points"][1][1] > canal["points"][0][1] + 5, "dragged right: posteriorly (+y)"
    assert 5 < canal["mm"] < 100
    shown = page.get_by_test_id("measure-canal_ap").inner_text()
    assert shown == f"{canal['mm']:.1f} mm"
    stored = LevelAnnotation.objects.get(assignment__case=case, level=current_level(page))
    assert stored.measurements["canal_ap"]["mm"] == canal["mm"]
    assert not page.page_errors


CENTRE_GREY = """(testId) => {
  const canvas = document.querySelector(`[data-testid=${testId}] canvas`);
  const ctx = canvas.getContext('2d');
  const [w, h] = [canvas.width, canvas.height];
  const data = ctx.getImageData(Math.floor(w / 2) - 2, Math.floor(h / 2) - 2, 5, 5).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += data[i];
  return sum / (data.length / 4);
}"""


def _grey(hu: float) -> float:
    """A CT value as the bone window (L 400 / W 1800) draws it, 0-255."""
    return min(max((hu - (400 - 900)) / 1800, 0.0), 1.0) * 255


def test_the_disc_plane_view_shows_the_disc_at_the_level_centre(live_server, page, tmp_path):
    import numpy as np
    from scipy.ndimage import map_coordinates

    from ml.imaging import load_ct_volume

    project, case, manifest = one_case_project(tmp_path)
    patient = manifest["patients"][0]
    truth = next(lv for lv in patient["levels"] if lv["level"] == "C5/6")
    volume = load_ct_volume(sorted((tmp_path / "cohort" / patient["ct"]["path"]).glob("*.dcm")))

    def hu_at(point) -> float:  # the generator's CT at a patient-space point
        x, y, z = point
        slice_index = np.interp(-z, -volume.z, np.arange(len(volume.z)))
        row, col = (y - volume.y0) / volume.row_spacing, (x - volume.x0) / volume.col_spacing
        return float(map_coordinates(volume.hu, [[slice_index], [row], [col]], order=1)[0])

    centre, normal = np.array(truth["ct_disc_centre_mm"]), np.array(truth["ct_disc_normal"])
    disc, bodies = hu_at(centre), [hu_at(centre + sign * 8.0 * normal) for sign in (1, -1)]
    assert disc < min(bodies) - 100, "the phantom's disc is darker than the bodies around it"

    open_case(live_server, page, project, case, "dr-plane")
    for _ in range(3):
        page.keyboard.press("j")  # C5/6
    assert current_level(page) == "C5/6"
    page.keyboard.press("o")
    page.get_by_text("CT in C5/6's disc plane").wait_for()
    page.wait_for_timeout(500)
    shown = page.evaluate(CENTRE_GREY, "viewport-ctDisc")
    assert abs(shown - _grey(disc)) < min(abs(shown - _grey(body)) for body in bodies), (shown, disc, bodies)
    assert not page.page_errors


def test_a_double_click_on_the_ct_sagittal_moves_the_ct_axial_there(live_server, page, tmp_path):
    project, case, _ = one_case_project(tmp_path)
    open_case(live_server, page, project, case, "dr-cursor")
    page.wait_for_timeout(500)
    canvas = page.locator("[data-testid=viewport-ctSagittal] canvas").first.bounding_box()
    x = canvas["x"] + canvas["width"] / 2
    slices = []
    for share in (0.35, 0.65):
        page.mouse.dblclick(x, canvas["y"] + canvas["height"] * share)
        page.wait_for_timeout(300)
        slices.append(int(page.get_by_test_id("slice-ctAxial").inner_text().split("/")[0]))
    # The stack runs head to feet (ascending instance numbers): lower on the sagittal, a later slice.
    assert slices[1] > slices[0] + 3, slices
    assert not LevelAnnotation.objects.filter(assignment__case=case).exclude(box=None).exists(), (
        "a double click draws no ROI"
    )
    assert not page.page_errors
