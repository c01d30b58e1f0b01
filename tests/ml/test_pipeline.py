"""The two-stage model: registries, contracts, metrics, training, checkpoints and inference."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from ml import LEVELS
from ml.acquisition import entropy, margin, mutual_information
from ml.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from ml.config import preset
from ml.data import (
    CROP_SIZE,
    DETECTOR_WINDOWS,
    ROI_WINDOWS,
    CohortError,
    RoiInput,
    crop_hu,
    crop_roi,
    load_csv_cohort,
    patient_split,
    reference_grades,
)
from ml.engine import ema_with_warmup
from ml.imaging import load_ct_volume, roi_box_around, sagittal_reformat
from ml.losses import GradeLoss
from ml.metrics import bootstrap_ci, box_iou, detection_level_recall, grading_metrics
from ml.models import CLASSIFIERS, build_classifier, build_detector, postprocess_levels
from ml.models.classifiers import PAPER_MODELS
from ml.models.detector import complete_levels
from ml.predict import Predictor
from ml.reformats import load_data
from ml.train import train


def test_registry_has_the_papers_four_and_sixteen_more_or_less():
    assert len(CLASSIFIERS) >= 16
    assert (
        set(PAPER_MODELS) == {"efficientnet_b0", "densenet121", "resnet101", "resnet26d"} <= set(CLASSIFIERS)
    )
    with pytest.raises(KeyError, match="unknown classifier"):
        build_classifier("alexnet-9000")


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_classifier_gives_four_grade_logits_and_has_dropout(name):
    model = build_classifier(name).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 48, 64)).shape == (2, 4)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules()), "MC dropout needs a dropout layer"


def test_detector_follows_torchvisions_contract():
    model = build_detector("light")
    images = [torch.rand(3, 120, 100), torch.rand(3, 110, 90)]
    targets = [
        {"boxes": torch.tensor([[20.0, 10, 60, 30], [22, 40, 62, 60]]), "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[10.0, 10, 50, 30]]), "labels": torch.tensor([3])},
    ]
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    model.eval()
    with torch.no_grad():
        outputs = model(images)
    assert len(outputs) == 2 and set(outputs[0]) == {"boxes", "labels", "scores"}


def test_postprocessing_keeps_one_box_per_level_in_anatomical_order():
    tops = [10, 40, 70, 100, 130, 160]
    boxes = torch.tensor([[20.0, t, 60, t + 20] for t in tops] + [[21.0, 41, 61, 61]])
    labels = torch.tensor([3, 1, 2, 4, 6, 5, 2])  # wrong classes, one duplicate of the second box
    scores = torch.tensor([0.9, 0.8, 0.95, 0.7, 0.6, 0.9, 0.5])
    result = postprocess_levels(boxes, labels, scores)
    assert list(result) == list(LEVELS)
    assert [result[lv][0][1] for lv in LEVELS] == tops, "six found: named top to bottom"

    partial = postprocess_levels(boxes[[0, 2, 3]], torch.tensor([1, 4, 3]), torch.tensor([0.9, 0.8, 0.6]))
    assert list(partial) == ["C2/3", "C5/6"], "a level out of order (C4/5 below C5/6) is dropped"
    filled = complete_levels(partial)
    assert list(filled) == list(LEVELS)
    assert filled["C3/4"][1] == 0.0 and filled["C2/3"][0][1] < filled["C3/4"][0][1] < filled["C5/6"][0][1]


@pytest.mark.parametrize(
    "name", ["small_cnn_max", "small_cnn"]
)  # the CNN "auto" picks, and the one before it
def test_classifier_loss_falls_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = build_classifier(name)
    crops, grades = torch.rand(16, 3, 48, 64), torch.arange(16) % 4
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(crops), grades)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_the_binary_loss_term_is_the_cross_entropy_of_p_grade_2_or_more():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0], [0.0, 0.2, 1.5, 0.3]])
    grades = torch.tensor([1, 2])
    plain = GradeLoss(label_smoothing=0.0)(logits, grades)
    assert plain == pytest.approx(torch.nn.functional.cross_entropy(logits, grades).item())
    p_significant = torch.softmax(logits, 1)[:, 2:].sum(1)
    by_hand = -(torch.log(1 - p_significant[0]) + torch.log(p_significant[1])) / 2
    both = GradeLoss(label_smoothing=0.0, binary_weight=0.5)(logits, grades)
    assert both.item() == pytest.approx(plain.item() + 0.5 * by_hand.item(), rel=1e-5)


def _qwk_by_hand(a, b, k=4):
    observed = np.zeros((k, k))
    for i, j in zip(a, b, strict=True):
        observed[i, j] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    return 1 - (weights * observed).sum() / (weights * expected).sum()


def _band_width(crop: np.ndarray) -> int:
    """Columns of the crop's middle row inside the bright band."""
    return int((crop[CROP_SIZE[0] // 2] > 0).sum())


def test_physical_crops_keep_millimetres_and_box_crops_stretch_them():
    hu = np.full((200, 200), -1000.0, np.float32)
    hu[:, 92:108] = 100.0  # a 16-pixel (8 mm) canal
    narrow, wide = [80.0, 85.0, 121.0, 115.0], [72.0, 85.0, 129.0, 115.0]  # same centre, 41 and 57 px wide
    assert _band_width(crop_hu(hu, narrow)) == _band_width(crop_hu(hu, wide)) == 16
    stretched = (
        _band_width(crop_hu(hu, narrow, crop="box")),
        _band_width(crop_hu(hu, wide, crop="box")),
    )
    assert stretched[0] >= 22 and stretched[1] <= 19  # about 16 x 63/40 and 16 x 63/56
    rng = np.random.default_rng(0)
    jittered = {_band_width(crop_hu(hu, narrow, jitter=rng)) for _ in range(20)}
    assert jittered <= {15, 16, 17}, "augmentation shifts a physical crop but never rescales it"
    hu[::7] = 300.0  # rows that show where a crop was cut
    shifted = [crop_hu(hu, box, jitter=np.random.default_rng(3)) for box in (narrow, wide)]
    assert np.array_equal(*shifted), "a physical crop shifts by millimetres, not by a share of its box"
    assert not np.array_equal(shifted[0], crop_hu(hu, narrow))
    with pytest.raises(ValueError, match="unknown roi_crop"):
        crop_hu(hu, narrow, crop="square")


def test_the_classifier_sees_cord_and_csf_apart():
    hu = np.full((100, 100), 8.0, np.float32)  # CSF
    hu[:, 50:] = 26.0  # cord
    box = [20.0, 20.0, 80.0, 80.0]
    crop = crop_roi(hu, box)  # the default: physical crop, ROI_WINDOWS
    row = CROP_SIZE[0] // 2
    cord_minus_csf = crop[:, row, -1] - crop[:, row, 0]
    assert cord_minus_csf.max() > 0.25, "one channel shows the 18 HU between CSF and cord plainly"
    old = crop_roi(hu, box, roi=RoiInput(crop="physical", windows=DETECTOR_WINDOWS))
    assert (old[:, row, -1] - old[:, row, 0]).max() < 0.15


def test_metrics_match_hand_computed_values():
    truth, predicted = [0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 2, 0, 2, 2, 3]
    m = grading_metrics(truth, predicted)
    assert m["4grade"]["accuracy"] == pytest.approx(6 / 8)
    # po = 0.75; pe = (2*2 + 2*1 + 2*4 + 2*1) / 64 = 16/64
    assert m["4grade"]["kappa"] == pytest.approx((0.75 - 0.25) / 0.75)
    assert m["4grade"]["kappa_quadratic"] == pytest.approx(_qwk_by_hand(truth, predicted))
    # binary: truth 0 0 1 1 0 0 1 1, predicted 0 0 1 1 0 1 1 1 -> 7/8
    assert m["binary"]["accuracy"] == pytest.approx(7 / 8)
    assert m["4grade"]["confusion_matrix"][3] == [0, 0, 1, 1]
    assert m["4grade"]["recall_per_grade"] == {"0": 1.0, "1": 0.5, "2": 1.0, "3": 0.5}
    low, high = bootstrap_ci(truth * 10, predicted * 10, lambda a, b: float((a == b).mean()), n_boot=300)
    assert low <= 0.75 <= high and high - low < 0.4


def test_detection_recall_needs_the_right_level_and_iou_half():
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    truth = [{"C2/3": [0, 0, 10, 10], "C3/4": [0, 20, 10, 30]}]
    found = [{"C2/3": [1, 1, 10, 10], "C4/5": [0, 20, 10, 30]}]
    assert detection_level_recall(truth, found)["level_recall_iou50"] == 0.5


def test_acquisition_scores():
    uniform, sure = np.full(4, 0.25), np.array([1.0, 0, 0, 0])
    assert entropy(uniform) == pytest.approx(math.log(4)) and entropy(sure) == pytest.approx(0, abs=1e-9)
    assert margin(np.array([0.5, 0.5, 0, 0])) == pytest.approx(1.0) and margin(sure) == pytest.approx(0.0)
    agreeing = np.stack([np.array([[0.7, 0.1, 0.1, 0.1]])] * 5)
    disagreeing = np.stack([np.array([[1.0, 0, 0, 0]]), np.array([[0, 0, 0, 1.0]])])
    assert mutual_information(agreeing)[0] == pytest.approx(0, abs=1e-9)
    assert mutual_information(disagreeing)[0] == pytest.approx(math.log(2), abs=1e-6)


def test_patient_split_is_8_1_1_disjoint_and_reproducible():
    ids = [f"P{i:03d}" for i in range(100)]
    split = patient_split(ids, seed=3)
    assert [len(split[k]) for k in ("train", "val", "test")] == [80, 10, 10]
    assert set(split["train"]) | set(split["val"]) | set(split["test"]) == set(ids)
    assert not set(split["train"]) & set(split["test"])
    assert patient_split(ids, seed=3) == split != patient_split(ids, seed=4)


def test_reference_grade_is_the_seniors_median():
    readers = {"s1": {"C2/3": 2}, "s2": {"C2/3": 3}, "j1": {"C2/3": 0, "C3/4": 1}}
    experience = {"s1": "senior", "s2": "senior", "j1": "junior"}
    assert reference_grades(readers, experience) == {"C2/3": 3, "C3/4": 1}


def ml_cli(*args, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m ml ARGS...` in a process of its own, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ml", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def ml_cli_smoke_train(cohort, labels, tmp_path) -> subprocess.CompletedProcess:
    """`ml train` on a real-layout cohort with the smoke preset, one epoch a stage, into tmp_path/run."""
    smoke = "--preset smoke --classifier-epochs 1 --detector-epochs 1".split()
    paths = [
        "--cohort",
        cohort,
        "--labels-csv",
        labels,
        "--out",
        tmp_path / "run",
        "--json",
        tmp_path / "result.json",
    ]
    return ml_cli("train", *paths, *smoke, timeout=600)


def write_real_layout(cohort, manifest, path, *, with_boxes=True, bad_row=None):
    """The documented real-cohort layout: <root>/<patient>/CT/*.dcm plus labels.csv."""
    columns = ["patient_id", "level", "grade", "reader", "reader_experience"] + (
        ["x0", "y0", "x1", "y1"] if with_boxes else []
    )
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for patient in manifest["patients"]:
            for level in patient["levels"]:
                for reader, grade in level["reader_grades"].items():
                    row = [patient["patient_id"], level["level"], grade, reader, reader.split("_")[0]]
                    writer.writerow(row + (level["roi_sagittal"] if with_boxes else []))
        if bad_row:
            writer.writerow(bad_row)


def test_csv_cohort_loading_and_its_errors(tiny_cohort, tmp_path):
    cohort, manifest = tiny_cohort
    labels = tmp_path / "labels.csv"
    write_real_layout(cohort, manifest, labels)
    records = load_csv_cohort(cohort, labels)
    assert [r.patient_id for r in records] == [p["patient_id"] for p in manifest["patients"]]
    assert len(records[0].ct_files) == manifest["patients"][0]["ct"]["n_slices"]
    assert set(records[0].boxes) == set(LEVELS)
    for bad, message in (
        (["X", "C9/10", "1", "r", "senior"], "unknown level"),
        (["X", "C2/3", "5", "r", "senior"], "grade must be 0-3"),
        (["X", "C2/3", "1", "r", "resident"], "reader_experience"),
    ):
        write_real_layout(cohort, manifest, labels, bad_row=bad + ["", "", "", ""])
        with pytest.raises(CohortError, match=message):
            load_csv_cohort(cohort, labels)
    labels.write_text("patient_id,level,grade\nP,C2/3,1\n")
    with pytest.raises(CohortError, match="missing columns"):
        load_csv_cohort(cohort, labels)


@pytest.fixture(scope="module")
def smoke_model(tiny_cohort, tmp_path_factory):
    cohort, _ = tiny_cohort
    out = tmp_path_factory.mktemp("smoke")
    result = train(preset("smoke", cohort=str(cohort), out=str(out), classifier_epochs=2, detector_epochs=1))
    return out, result


def test_smoke_training_writes_a_complete_checkpoint(smoke_model):
    out, result = smoke_model
    bundle = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    assert bundle["format"] == "spine-stenosis-pipeline/1"
    assert bundle["class_names"] == ["0", "1", "2", "3"] and bundle["levels"] == list(LEVELS)
    assert (
        bundle["config"]["classifier"] == "canal_profile"
    )  # "auto" resolved: a dozen patients are few labels
    assert set(bundle["split"]) == {"train", "val", "test"}
    assert result["canal_ap"]["test_levels"] == 6  # the test patient's known diameters were scored
    assert bundle["canal_ap"]["fitted_on"] == result["canal_ap"]["fitted_on_levels"]
    assert bundle["detector"]["state"] and bundle["classifier"]["state"]
    for task in ("4grade", "binary"):
        assert 0 <= result["test"][task]["accuracy"] <= 1
        assert "kappa_quadratic_ci95" in result["test"][task]
    assert json.loads((out / "result.json").read_text())["checkpoint"] == str(out / "model.pt")


def test_training_is_deterministic_and_resumes(tiny_cohort, smoke_model, tmp_path):
    cohort, _ = tiny_cohort
    out, first = smoke_model
    config = preset("smoke", cohort=str(cohort), out=str(tmp_path), classifier_epochs=2, detector_epochs=1)
    again = train(config)
    a = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    b = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=False)
    for key, value in a["classifier"]["state"].items():
        assert torch.equal(value, b["classifier"]["state"][key]), key
    assert again["test"]["4grade"]["accuracy"] == first["test"]["4grade"]["accuracy"]
    # A rerun into the same folder resumes from the last epoch instead of training again.
    (tmp_path / "model.pt").unlink()
    resumed = train(config)
    assert resumed["test"] == again["test"]


def test_split_seed_keeps_the_split_while_the_seed_changes(tiny_cohort):
    cohort, _ = tiny_cohort
    splits = {seed: load_data(preset("smoke", cohort=str(cohort), seed=seed))[1] for seed in range(4)}
    assert any(split != splits[0] for split in splits.values()), "the seed alone moves the split"
    for seed in range(4):
        assert load_data(preset("smoke", cohort=str(cohort), seed=seed, split_seed=0))[1] == splits[0]


def test_epoch_progress_counts_the_epochs_that_will_run(tiny_cohort, smoke_model, tmp_path):
    cohort, _ = tiny_cohort
    out, _ = smoke_model
    config = preset(
        "smoke",
        cohort=str(cohort),
        out=str(tmp_path),
        classifier_epochs=1,
        patience=None,
        min_classifier_steps=5,
        detector_checkpoint=str(out / "model.pt"),
    )
    epochs = []
    train(config, progress=lambda info: epochs.append(info) if info["stage"] == "classifier_epoch" else None)
    # One training patient's 6 levels are one batch: 5 steps take 5 epochs, not the configured 1.
    assert [(e["epoch"], e["epochs"]) for e in epochs] == [(k, 5) for k in range(1, 6)]


def test_the_whole_schedule_keeps_its_last_averaged_weights(tiny_cohort, smoke_model, tmp_path, monkeypatch):
    cohort, _ = tiny_cohort
    out, _ = smoke_model
    monkeypatch.setattr("ml.train.MIN_VAL_LEVELS_TO_SELECT", 1)  # let one validation patient pick an epoch
    for patience, name in ((None, "whole"), (1, "stopped")):
        train(
            preset(
                "smoke",
                cohort=str(cohort),
                out=str(tmp_path / name),
                classifier_epochs=4,
                patience=patience,
                detector_checkpoint=str(out / "model.pt"),
            )
        )
    whole = torch.load(tmp_path / "whole" / "model.pt", weights_only=False)["classifier"]
    last = torch.load(tmp_path / "whole" / "classifier_last.pt", weights_only=False)["ema"]
    assert len(whole["history"]) == 4
    assert all(torch.equal(value, last[f"module.{key}"]) for key, value in whole["state"].items())
    stopped = torch.load(tmp_path / "stopped" / "model.pt", weights_only=False)["classifier"]
    assert len(stopped["history"]) < 4, "patience 1 stops once the validation kappa does not improve"


def test_predictor_on_a_study_without_manifest(tiny_cohort, smoke_model):
    cohort, manifest = tiny_cohort
    out, _ = smoke_model
    predictor = Predictor.from_checkpoint(out / "model.pt")
    files = sorted((cohort / manifest["patients"][0]["ct"]["path"]).glob("*.dcm"))
    levels = predictor.predict_study(files, mc_samples=4)
    reformat = sagittal_reformat(load_ct_volume(files))
    assert [lv.level for lv in levels] == list(LEVELS)
    for lv in levels:
        assert sum(lv.probabilities) == pytest.approx(1, abs=1e-3)
        assert lv.binary_probability == pytest.approx(sum(lv.probabilities[2:]), abs=1e-3)
        assert lv.significant == (lv.binary_probability >= predictor.binary_threshold)
        assert lv.grade == int(np.argmax(lv.probabilities))
        assert lv.entropy == pytest.approx(float(entropy(np.array(lv.probabilities))), abs=1e-3)
        assert lv.mutual_information is not None and lv.mutual_information >= -1e-6
        assert lv.canal_ap_mm is not None and 0 <= lv.canal_ap_mm <= 32  # the crop is 32 mm deep
        assert len(lv.box) == 4 and lv.box[0] < lv.box[2] and lv.box[1] < lv.box[3]
        # the box's centre in patient mm (the canal at the level) maps back onto the box's centre
        around = roi_box_around(reformat, lv.canal)
        assert (around[0] + around[2]) / 2 == pytest.approx((lv.box[0] + lv.box[2]) / 2, abs=0.05)
        assert (around[1] + around[3]) / 2 == pytest.approx((lv.box[1] + lv.box[3]) / 2, abs=0.05)
    with pytest.raises(ValueError, match="not a pipeline checkpoint"):
        Predictor({"format": "something else"})
    assert predictor.roi == RoiInput(crop="physical", windows=ROI_WINDOWS)
    # a checkpoint is plain data: it loads without unpickling any code
    assert torch.load(out / "model.pt", map_location="cpu", weights_only=True)["format"] == CHECKPOINT_FORMAT
    older = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    del older["config"]["roi_crop"], older["config"]["roi_windows"]
    assert Predictor(older).roi == RoiInput(crop="box", windows=DETECTOR_WINDOWS), (
        "checkpoints from before these keys cropped the box through the detector's windows"
    )


def test_cli_trains_a_real_cohort_layout_and_predicts(tiny_cohort, smoke_model, tmp_path):
    cohort, manifest = tiny_cohort
    labels = tmp_path / "labels.csv"
    write_real_layout(cohort, manifest, labels)
    run = ml_cli_smoke_train(cohort, labels, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "reformat CT" in run.stderr, "progress on stderr"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["split_sizes"] == {"train": 1, "val": 1, "test": 1}
    assert {"junior", "senior"} <= set(result["test"]["reader_agreement"])

    out, _ = smoke_model
    predicted = ml_cli(
        "predict", "--checkpoint", out / "model.pt", "--study", cohort / manifest["patients"][1]["ct"]["path"]
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert [lv["level"] for lv in json.loads(predicted.stdout)["levels"]] == list(LEVELS)


def test_compare_writes_the_papers_table(tiny_cohort, tmp_path):
    from ml.compare import compare

    cohort, _ = tiny_cohort
    config = preset("smoke", cohort=str(cohort), out=str(tmp_path), classifier_epochs=1, detector_epochs=1)
    table = compare(config, ["small_cnn", "mobilenet_v3_small"])
    assert [row["model"] for row in table["rows"]] == ["small_cnn", "mobilenet_v3_small"]
    for row in table["rows"]:
        for task in ("4grade", "binary"):
            assert 0 <= row[f"{task}_accuracy"] <= 1 and 0 <= row[f"{task}_macro_f1"] <= 1
            assert -1 <= row[f"{task}_kappa"] <= 1 and -1 <= row[f"{task}_kappa_quadratic"] <= 1
    markdown = (tmp_path / "comparison.md").read_text().splitlines()
    assert markdown[0].startswith("| model | 4-grade accuracy") and len(markdown) == 4
    second = torch.load(tmp_path / "mobilenet_v3_small" / "model.pt", map_location="cpu", weights_only=False)
    first = torch.load(tmp_path / "small_cnn" / "model.pt", map_location="cpu", weights_only=False)
    assert second["detector"]["metrics"].get("reused"), "one detector serves every classifier"
    for key, value in first["detector"]["state"].items():
        assert torch.equal(value, second["detector"]["state"][key])


@pytest.mark.parametrize("steps", [300, 3000])
def test_the_kept_average_of_a_short_training_has_the_models_batchnorm_statistics(steps):
    """With a fixed decay the average kept decay**steps of the initial running variance (1.0): after
    300 steps 0.044, here half again the model's 0.1, which shifted every grade of a short training."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    average = AveragedModel(model, multi_avg_fn=ema_with_warmup(0.99), use_buffers=True)
    average.update_parameters(model)  # the first update copies the untrained model
    model[1].running_var.fill_(0.1)
    model[1].running_mean.fill_(0.5)
    model[1].num_batches_tracked.fill_(steps)
    for _ in range(steps):
        average.update_parameters(model)
    kept = average.module[1]
    assert torch.allclose(kept.running_var, torch.full((4,), 0.1), rtol=0.01)
    assert torch.allclose(kept.running_mean, torch.full((4,), 0.5), rtol=0.01)
    assert int(kept.num_batches_tracked) == steps


def test_a_checkpoint_from_before_plain_bundles_still_loads(tmp_path, caplog):
    torch.save({"format": CHECKPOINT_FORMAT, "metrics": {"kappa": np.float64(0.7)}}, tmp_path / "old.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(tmp_path / "old.pt", weights_only=True)
    assert load_checkpoint(tmp_path / "old.pt")["metrics"]["kappa"] == 0.7
    assert "predates plain checkpoints" in caplog.text
    save_checkpoint(
        {"format": CHECKPOINT_FORMAT, "metrics": {np.str_("C2/3"): np.float64(0.7)}}, tmp_path / "new.pt"
    )
    assert torch.load(tmp_path / "new.pt", weights_only=True)["metrics"] == {"C2/3": 0.7}


def test_resume_files_are_written_first_then_at_most_every_30_s_and_after_the_last_epoch(
    tmp_path, monkeypatch
):
    from ml import checkpoint

    saves = []
    real = torch.save
    monkeypatch.setattr(
        checkpoint.torch, "save", lambda obj, path: saves.append(obj["epoch"]) or real(obj, path)
    )
    for epoch in range(1, 6):
        checkpoint.resume_save(tmp_path / "stage_last.pt", {"seed": 0}, last=epoch == 5, epoch=epoch)
    assert saves == [1, 5], "a short stage is not slowed by a write per epoch"
    assert checkpoint.resume_load(tmp_path / "stage_last.pt", {"seed": 0})["epoch"] == 5
    assert checkpoint.resume_load(tmp_path / "stage_last.pt", {"seed": 1}) is None, (
        "another config starts over"
    )
