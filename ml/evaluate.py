"""Evaluation: the detector's level recall, the binary cut, end-to-end grading of a split through the
detector's boxes with reader agreement, and a saved checkpoint on a cohort."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml import LEVELS
from ml.checkpoint import load_checkpoint
from ml.data import DEFAULT_ROI, ROIDataset, RoiInput, load_cohort, to_channels
from ml.engine import detect_levels, predict_probabilities
from ml.metrics import detection_level_recall, grading_metrics, per_level_recall, with_intervals
from ml.predict import Predictor
from ml.reformats import Reformats


def detection_recall(model: nn.Module, data: Reformats, ids: list[str], device) -> dict:
    if not ids:  # nothing to check against (JSON has no NaN: the progress and results are stored)
        return {"level_recall_iou50": None, "mean_iou": None}
    found = find_boxes(model, data, ids, device)
    return detection_level_recall(
        [data.records[p].boxes for p in ids], [_detected_only(found[p]) for p in ids]
    )


def _detected_only(levels: dict) -> dict[str, list[float]]:
    """Boxes the detector found itself (interpolated ones, score 0, do not count for recall)."""
    return {level: box for level, (box, score) in levels.items() if score > 0}


def find_boxes(model: nn.Module, data: Reformats, ids: list[str], device, batch: int = 8) -> dict[str, dict]:
    """Per patient: level -> (box, score) from the detector."""
    found = {}
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        images = [torch.from_numpy(to_channels(data.images[p])) for p in chunk]
        found.update(zip(chunk, detect_levels(model, images, device), strict=True))
    return found


def binary_threshold_on(
    classifier, data: Reformats, ids: list[str], device, *, amp: bool = False, roi: RoiInput = DEFAULT_ROI
) -> float:
    """The P(grade >= 2) cut that grades the validation levels best (0.5 unless another is better)."""
    loader = DataLoader(ROIDataset(data.roi_samples(ids), train=False, roi=roi), batch_size=256)
    probabilities, labels = predict_probabilities(classifier, loader, device, amp=amp)
    if len(labels) == 0:
        return 0.5
    significant, truth = probabilities[:, 2:].sum(1), labels >= 2
    candidates = np.round(np.arange(0.2, 0.81, 0.02), 2)
    scores = [((significant >= t) == truth).mean() - 1e-6 * abs(t - 0.5) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def evaluate_split(
    detector,
    classifier,
    data: Reformats,
    ids: list[str],
    device,
    *,
    amp: bool = False,
    binary_threshold: float = 0.5,
    roi: RoiInput = DEFAULT_ROI,
) -> dict:
    """End-to-end grading of the given patients through the detector's boxes, plus agreement with readers."""
    found = find_boxes(detector, data, ids, device)
    samples, keys, missed = [], [], 0
    for pid in ids:
        record = data.records[pid]
        for level in LEVELS:
            if level not in record.grades:
                continue
            if level not in found[pid]:  # fewer than two levels found: nothing to grade
                missed += 1
                continue
            samples.append((data.images[pid], found[pid][level][0], record.grades[level]))
            keys.append((pid, level))
    loader = DataLoader(ROIDataset(samples, train=False, roi=roi), batch_size=256)
    probabilities, labels = predict_probabilities(classifier, loader, device, amp=amp)
    predicted = probabilities.argmax(1)
    significant = (probabilities[:, 2:].sum(1) >= binary_threshold).astype(int)  # binary from P(grade >= 2)
    levels = [lv for _, lv in keys]
    result = with_intervals(labels, predicted, predicted_binary=significant, groups=[pid for pid, _ in keys])
    result["per_level_accuracy"] = per_level_recall(labels, predicted, levels)
    result["levels_not_graded"] = missed
    result["binary_threshold"] = binary_threshold
    result["detection"] = detection_level_recall(
        [data.records[p].boxes for p in ids if data.records[p].boxes],
        [_detected_only(found[p]) for p in ids if data.records[p].boxes],
    )
    result["reader_agreement"] = reader_agreement(data, keys, predicted)
    return result


def reader_agreement(data: Reformats, keys: list[tuple[str, str]], predicted: np.ndarray) -> dict:
    """Model vs each reader experience group: kappas on the levels both graded."""
    by_group: dict[str, tuple[list, list]] = {}
    for (pid, level), grade in zip(keys, predicted, strict=True):
        record = data.records[pid]
        for reader, grades in record.reader_grades.items():
            if level in grades:
                group = record.reader_experience.get(reader, "unknown")
                model, human = by_group.setdefault(group, ([], []))
                model.append(int(grade))
                human.append(grades[level])
    result = {}
    for group, (model, human) in by_group.items():
        metrics = grading_metrics(human, model)
        result[group] = {
            "n": metrics["n"],
            "kappa_4grade": metrics["4grade"]["kappa"],
            "kappa_quadratic_4grade": metrics["4grade"]["kappa_quadratic"],
            "kappa_binary": metrics["binary"]["kappa"],
        }
    return result


def evaluate_checkpoint(
    checkpoint: str,
    cohort: str,
    *,
    labels_csv: str | None = None,
    split: str = "test",
    progress: Callable[[dict], None] | None = None,
    device: str | None = None,
) -> dict:
    bundle = load_checkpoint(checkpoint)
    predictor = Predictor(bundle, device=device)
    records = load_cohort(cohort, labels_csv)
    if split == "test":
        wanted = set(bundle["split"]["test"])
        records = [r for r in records if r.patient_id in wanted]
        if not records:
            raise ValueError("none of the checkpoint's test patients is in this cohort; use split='all'")
    result = evaluate_reformats(predictor, Reformats.load(records, progress))
    return {"checkpoint": checkpoint, "cohort": cohort, "split": split, "patients": len(records), **result}


def evaluate_reformats(predictor: Predictor, data: Reformats) -> dict:
    """The predictor graded end to end on every patient of reformats already loaded."""
    return evaluate_split(
        predictor.detector,
        predictor.classifier,
        data,
        list(data.records),
        predictor.device,
        binary_threshold=predictor.binary_threshold,
        roi=predictor.roi,
    )
