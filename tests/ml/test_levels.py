"""The model-free level finder, its bad inputs, and training from grades without boxes."""

import json

import numpy as np
import pydicom
import pytest

from ml import LEVELS
from ml.data import load_synthetic_cohort
from ml.imaging import ImagingError, load_ct_volume
from ml.level_eval import evaluate_levels
from ml.levels import find_ct_levels, find_ct_levels_in_files, find_mr_levels_in_files
from ml.reformats import Reformats
from tests.ml.test_pipeline import ml_cli, ml_cli_smoke_train, write_real_layout


def _ct_files(cohort, patient):
    return sorted((cohort / patient["ct"]["path"]).glob("*.dcm"))


def _distance(found, truth) -> float:
    return float(np.linalg.norm(np.subtract(found, truth)))


def test_the_ct_finder_places_the_levels_near_the_truth_without_a_model(tiny_cohort):
    cohort, manifest = tiny_cohort
    errors = []
    for patient in manifest["patients"]:
        finding = find_ct_levels_in_files(_ct_files(cohort, patient))
        assert finding.modality == "CT" and finding.seconds < 2.0
        assert [lv.level for lv in finding.levels] == [lv for lv in LEVELS if lv not in finding.missing]
        for truth in patient["levels"]:
            found = finding.level(truth["level"])
            if found is not None:
                errors.append(_distance(found.centre, truth["ct_disc_centre_mm"]))
                assert found.normal[2] > 0.8, "the disc plane's normal points up the spine"
                assert 0 < found.confidence <= 1
    assert len(errors) >= 16 and np.median(errors) < 3.0 and np.mean(np.array(errors) <= 3.0) >= 0.9


def test_the_cli_scores_the_finder_against_the_manifest(tiny_cohort, tmp_path):
    cohort, _ = tiny_cohort
    run = ml_cli("levels", "--cohort", cohort, "--json", tmp_path / "levels.json")
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    for key in ("ct_within_3mm", "mr_within_3mm", "ct_median_seconds", "mr_median_seconds"):
        assert key in summary
    assert summary["ct_within_3mm"] >= 0.8
    assert len(json.loads((tmp_path / "levels.json").read_text())["per_study"]) == summary["studies"]


def test_a_ct_that_shows_fewer_levels_reports_the_ones_it_could_not_place(tiny_cohort):
    cohort, manifest = tiny_cohort
    patient = manifest["patients"][0]
    volume = load_ct_volume(_ct_files(cohort, patient))
    cut_z = patient["levels"][3]["ct_disc_centre_mm"][2] - 4.0  # just below C5/6
    keep = volume.z >= cut_z
    volume.hu, volume.z = volume.hu[keep], volume.z[keep]
    finding = find_ct_levels(volume)
    assert {"C6/7", "C7/T1"} <= set(finding.missing)
    for found in finding.levels:  # what it did place is the right level, not a shifted name
        truth = next(lv for lv in patient["levels"] if lv["level"] == found.level)
        assert _distance(found.centre, truth["ct_disc_centre_mm"]) < 5.0


def _rewrite(files, out, change):
    out.mkdir()
    for path in files:
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(out / path.name)
    return sorted(out.glob("*.dcm"))


def test_a_mirrored_ct_series_gives_the_same_levels(tiny_cohort, tmp_path):
    cohort, manifest = tiny_cohort
    files = _ct_files(cohort, manifest["patients"][1])

    def mirror(ds):
        pixels = ds.pixel_array[::-1, ::-1].copy()
        rows, cols = pixels.shape
        row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x + (cols - 1) * col_mm, y + (rows - 1) * row_mm, z]
        ds.ImageOrientationPatient = [-1, 0, 0, 0, -1, 0]
        ds.PixelData = pixels.tobytes()

    straight = find_ct_levels_in_files(files)
    mirrored = find_ct_levels_in_files(_rewrite(files, tmp_path / "mirrored", mirror))
    assert [lv.level for lv in mirrored.levels] == [lv.level for lv in straight.levels]
    for a, b in zip(straight.levels, mirrored.levels, strict=True):
        assert _distance(a.centre, b.centre) < 0.5


def test_an_upside_down_mr_sagittal_series_gives_the_same_levels(tiny_cohort, tmp_path):
    cohort, manifest = tiny_cohort
    patient = manifest["patients"][0]
    files = sorted((cohort / patient["mr"]["sagittal_path"]).glob("*.dcm"))

    def flip(ds):
        pixels = ds.pixel_array[::-1].copy()
        row_mm = float(ds.PixelSpacing[0])
        origin = np.asarray(ds.ImagePositionPatient, float)
        along_col = np.asarray(ds.ImageOrientationPatient[3:], float)
        ds.ImagePositionPatient = list(origin + along_col * row_mm * (pixels.shape[0] - 1))
        ds.ImageOrientationPatient = [*ds.ImageOrientationPatient[:3], *(-along_col)]
        ds.PixelData = pixels.tobytes()

    upright = find_mr_levels_in_files(files)
    flipped = find_mr_levels_in_files(_rewrite(files, tmp_path / "flipped", flip))
    assert [lv.level for lv in flipped.levels] == [lv.level for lv in upright.levels]
    for a, b in zip(upright.levels, flipped.levels, strict=True):
        assert _distance(a.centre, b.centre) < 0.5


def test_an_mr_without_a_sagittal_series_is_refused_clearly(tiny_cohort):
    cohort, manifest = tiny_cohort
    axial = sorted((cohort / manifest["patients"][0]["mr"]["axial_path"]).glob("*.dcm"))
    with pytest.raises(ImagingError, match="not a sagittal image"):
        find_mr_levels_in_files(axial)
    with pytest.raises(ImagingError, match="expected MR"):
        find_mr_levels_in_files(_ct_files(cohort, manifest["patients"][0])[:3])


def test_levels_graded_without_a_box_are_cropped_where_the_finder_places_them(tiny_cohort):
    cohort, _ = tiny_cohort
    records = load_synthetic_cohort(cohort)
    truth = {r.patient_id: dict(r.boxes) for r in records}
    for record in records:
        record.boxes = {}
    data = Reformats.load(records)
    ids = list(data.records)
    counts = data.roi_source_counts(ids)
    assert counts["reader_box"] == 0 and counts["finder"] >= 16
    assert len(data.roi_samples(ids)) == counts["finder"]
    for pid in ids:
        for level, box in data.boxes[pid].items():
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            true = np.array(
                [
                    (truth[pid][level][0] + truth[pid][level][2]) / 2,
                    (truth[pid][level][1] + truth[pid][level][3]) / 2,
                ]
            )
            assert np.linalg.norm(centre - true) * 0.5 < 3.0, (pid, level)
    train_ids, boxes, labels = data.detector_boxes(ids)
    assert labels == "finder" and train_ids


def test_the_cli_trains_evaluates_and_predicts_from_a_grade_only_labels_csv(tiny_cohort, tmp_path):
    cohort, manifest = tiny_cohort
    labels = tmp_path / "labels.csv"
    write_real_layout(cohort, manifest, labels, with_boxes=False)
    train = ml_cli_smoke_train(cohort, labels, tmp_path)
    assert train.returncode == 0, train.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["detector"]["labels"] == "finder"
    assert result["roi_sources"]["finder"] > 0 and result["roi_sources"]["reader_box"] == 0
    checkpoint = tmp_path / "run" / "model.pt"
    evaluated = ml_cli(
        "evaluate", "--checkpoint", checkpoint, "--cohort", cohort, "--labels-csv", labels, "--split", "all"
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    predicted = ml_cli(
        "predict", "--checkpoint", checkpoint, "--study", cohort / manifest["patients"][0]["ct"]["path"]
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert [lv["level"] for lv in json.loads(predicted.stdout)["levels"]] == list(LEVELS)


def test_every_cohort_level_carries_the_finders_truth(tiny_cohort):
    cohort, manifest = tiny_cohort
    for level in manifest["patients"][0]["levels"]:
        for key in ("ct_disc_centre_mm", "ct_canal_centre_mm", "ct_disc_normal", "mr_disc_centre_mm"):
            assert len(level[key]) == 3
    assert evaluate_levels(cohort)["studies"] == len(manifest["patients"])
