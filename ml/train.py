"""Train the two-stage model on a cohort: the detector, then the classifier, then test.

Read top to bottom: load studies and split by patient; reduce every CT to its sagittal
reformat; train the detector (best epoch by validation level recall); train the classifier on
the true boxes' crops (a whole cosine schedule, or early stopping on validation quadratic kappa);
grade the test split end to end through the detector's boxes; save one checkpoint bundle that
`Predictor` loads.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from ml import LEVELS
from ml.data import (
    BOX_SOURCES,
    DEFAULT_ROI,
    ROI_WINDOWS,
    DetectionDataset,
    ROIDataset,
    RoiInput,
    StudyRecord,
    detection_collate,
    load_cohort,
    patient_split,
    study_level_boxes,
    to_channels,
)
from ml.engine import (
    detect_levels,
    ema_with_warmup,
    predict_probabilities,
    train_one_epoch_classifier,
    train_one_epoch_detector,
)
from ml.imaging import load_ct_volume, sagittal_reformat
from ml.losses import GradeLoss
from ml.metrics import detection_level_recall, grading_metrics, kappa, per_level_recall, with_intervals
from ml.models import build_classifier, build_detector

CHECKPOINT_FORMAT = "spine-stenosis-pipeline/1"
CLASS_NAMES = ["0", "1", "2", "3"]


@dataclass
class TrainConfig:
    cohort: str = ""
    labels_csv: str | None = None
    out: str = "var/models/run"
    seed: int = 0
    split_seed: int | None = None  # seed of the patient split; None: seed (other seeds, same split)
    split_ratios: tuple[int, int, int] = (8, 1, 1)
    max_patients: int | None = None
    detector: str = "light"
    detector_epochs: int = 10
    detector_lr: float = 0.01
    detector_batch: int = 4
    detector_checkpoint: str | None = None  # reuse a trained detector (e.g. when a cohort has no boxes)
    init_from: str | None = None  # warm start both stages from an earlier checkpoint of the same networks
    min_detector_steps: int = 0  # small cohorts: more epochs, so the detector still sees enough batches
    min_classifier_steps: int = 0
    classifier: str = "small_cnn_max"
    roi_crop: str = "physical"  # how a box becomes the classifier's crop (ml.data.ROI_CROPS)
    roi_windows: tuple[tuple[float, float], ...] = ROI_WINDOWS  # the crop's channels: (centre, width) HU
    classifier_epochs: int = 32
    classifier_lr: float = 2e-3
    classifier_batch: int = 64
    weight_decay: float = 1e-4
    # Epochs without a better validation QWK (of the EMA weights) before stopping, and the epoch with
    # the best one is kept; None: the whole cosine schedule runs and its last (averaged) weights are
    # kept, not an epoch picked by a validation kappa as noisy as its 30 patients.
    patience: int | None = None
    class_weighting: bool = True
    binary_loss_weight: float = 0.0  # weight of the binary term on P(grade >= 2) in the loss
    ema_decay: float = 0.99  # the classifier kept is an exponential moving average of its weights (0: off)
    amp: bool = True
    device: str | None = None  # cuda when available, else cpu
    threads: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def roi(self) -> RoiInput:
        return RoiInput(crop=self.roi_crop, windows=self.roi_windows)


PRESETS: dict[str, dict] = {
    "smoke": dict(max_patients=12, detector_epochs=2, classifier_epochs=3, patience=3, classifier_batch=32),
    # The platform's loop: a few minutes on CPU whatever the number of labels, warm-started from the champion.
    "fast": dict(
        detector_epochs=4, classifier_epochs=12, patience=5, min_detector_steps=200, min_classifier_steps=300
    ),
    "default": {},
    "paper": dict(classifier="efficientnet_b0", classifier_lr=1e-3, classifier_epochs=60, patience=12),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return replace(TrainConfig(), **{**PRESETS[name], **overrides})


@dataclass
class Reformats:
    """Every study's sagittal reformat (HU), and per level the box its crop is cut from, by patient."""

    images: dict[str, np.ndarray] = field(default_factory=dict)
    records: dict[str, StudyRecord] = field(default_factory=dict)
    boxes: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    box_sources: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, records: list[StudyRecord], progress: Callable[[dict], None] | None = None) -> "Reformats":
        result = cls()
        for k, record in enumerate(records):
            volume = load_ct_volume(record.ct_files)
            reformat = sagittal_reformat(volume)
            result.images[record.patient_id] = reformat.image
            result.records[record.patient_id] = record
            boxes, sources = study_level_boxes(record, volume, reformat)
            result.boxes[record.patient_id], result.box_sources[record.patient_id] = boxes, sources
            if progress:
                progress({"stage": "load", "done": k + 1, "total": len(records)})
        return result

    def roi_samples(self, ids: list[str], boxes: dict[str, dict] | None = None) -> list[tuple]:
        """(image, box, grade) for every graded level that has a box (see study_level_boxes)."""
        samples = []
        for pid in ids:
            record = self.records[pid]
            level_boxes = boxes[pid] if boxes is not None else self.boxes[pid]
            for level in LEVELS:
                if level in record.grades and level in level_boxes:
                    samples.append((self.images[pid], level_boxes[level], record.grades[level]))
        return samples

    def roi_source_counts(self, ids: list[str]) -> dict[str, int]:
        """How many graded levels' crops come from each source (BOX_SOURCES; "none": not placed)."""
        counts = dict.fromkeys((*BOX_SOURCES, "none"), 0)
        for pid in ids:
            for level in self.records[pid].grades:
                counts[self.box_sources[pid].get(level, "none")] += 1
        return counts

    def detector_boxes(self, ids: list[str]) -> tuple[list[str], dict[str, dict[str, list[float]]], str]:
        """The detector's training boxes: readers' boxes and corrected positions; only when no study
        has any, the finder's (weak labels, so that a project without boxes still gets a detector)."""
        for kinds, label in ((("reader_box", "reader_position"), "reader"), (("finder",), "finder")):
            chosen = {
                pid: {lv: box for lv, box in self.boxes[pid].items() if self.box_sources[pid][lv] in kinds}
                for pid in ids
            }
            chosen = {pid: boxes for pid, boxes in chosen.items() if boxes}
            if chosen:
                return list(chosen), chosen, label
        return [], {}, "none"


def select_device(config: TrainConfig) -> torch.device:
    if config.device:
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def load_data(config: TrainConfig, progress: Callable[[dict], None] | None = None) -> tuple[Reformats, dict]:
    """The cohort's reformats and its patient split."""
    records = load_cohort(config.cohort, config.labels_csv)
    if config.max_patients:
        records = records[: config.max_patients]
    split_seed = config.seed if config.split_seed is None else config.split_seed
    split = patient_split([r.patient_id for r in records], ratios=config.split_ratios, seed=split_seed)
    return Reformats.load(records, progress), split


def train(
    config: TrainConfig, *, progress: Callable[[dict], None] | None = None,
    data: tuple[Reformats, dict] | None = None,
) -> dict:  # fmt: skip
    """Train both stages; returns the result (metrics, paths) and writes out/model.pt."""
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = select_device(config)
    amp = config.amp and device.type == "cuda"
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    data, split = data or load_data(config, progress)

    detector_state, detector_metrics = _train_detector(config, data, split, device, amp, out, progress)
    detector = build_detector(config.detector)
    detector.load_state_dict(detector_state)
    detector.to(device)

    classifier_state, classifier_history = _train_classifier(config, data, split, device, amp, out, progress)
    classifier = build_classifier(config.classifier)
    classifier.load_state_dict(classifier_state)
    classifier.to(device)

    threshold = binary_threshold_on(classifier, data, split["val"], device, amp=amp, roi=config.roi)
    test = evaluate_split(
        detector, classifier, data, split["test"], device, amp=amp, binary_threshold=threshold,
        roi=config.roi,
    )  # fmt: skip
    bundle = {
        "format": CHECKPOINT_FORMAT,
        "config": config.as_dict(),
        "levels": list(LEVELS),
        "class_names": CLASS_NAMES,
        "split": split,
        "detector": {"name": config.detector, "state": detector_state, "metrics": detector_metrics},
        "classifier": {
            "name": config.classifier,
            "state": classifier_state,
            "history": classifier_history,
            "binary_threshold": threshold,
        },  # fmt: skip
        "metrics": {"test": test},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    torch.save(bundle, out / "model.pt")
    result = {
        "checkpoint": str(out / "model.pt"),
        "train_seconds": bundle["train_seconds"],
        "split_sizes": {k: len(v) for k, v in split.items()},
        "roi_sources": data.roi_source_counts(split["train"]),
        "detector": detector_metrics,
        "test": test,
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


# Below this many validation levels the kappa is too noisy to pick an epoch or stop early on
# (it would keep the first, barely trained, weights): the last weights are kept instead.
MIN_VAL_LEVELS_TO_SELECT = 30


def _warm_start(model: nn.Module, config: TrainConfig, stage: str) -> None:
    """Start from an earlier checkpoint's weights of this stage when it is the same network."""
    if not config.init_from:
        return
    bundle = torch.load(config.init_from, map_location="cpu", weights_only=False)
    if bundle[stage]["name"] == getattr(config, stage):
        model.load_state_dict(bundle[stage]["state"])


def _train_detector(config, data: Reformats, split, device, amp, out: Path, progress) -> tuple[dict, dict]:
    if config.detector_checkpoint:
        bundle = torch.load(config.detector_checkpoint, map_location="cpu", weights_only=False)
        return bundle["detector"]["state"], {**bundle["detector"].get("metrics", {}), "reused": True}
    train_ids, train_boxes, labels = data.detector_boxes(split["train"])
    if not train_ids:
        raise ValueError(
            "no training study has a level box, a level position or levels the finder could place:"
            " give detector_checkpoint to reuse a trained detector"
        )
    model = build_detector(config.detector).to(device)
    dataset = DetectionDataset(
        [data.images[p] for p in train_ids],
        [train_boxes[p] for p in train_ids],
        train=True,
        seed=config.seed,
    )
    loader = DataLoader(
        dataset, batch_size=config.detector_batch, shuffle=True, collate_fn=detection_collate,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    _warm_start(model, config, "detector")
    epochs = max(config.detector_epochs, math.ceil(config.min_detector_steps / len(loader)))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=config.detector_lr, momentum=0.9, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.detector_lr, total_steps=epochs * len(loader), pct_start=0.15
    )
    scaler = torch.amp.GradScaler("cuda") if amp else None
    resume = out / "detector_last.pt"
    start_epoch, best, best_state, history = 0, -1.0, None, []
    if resume.exists():
        state = torch.load(resume, map_location="cpu", weights_only=False)
        if state["config"] == config.as_dict():
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start_epoch, best, best_state, history = (
                state["epoch"],
                state["best"],
                state["best_state"],
                state["history"],
            )

    def step_progress(info: dict) -> None:
        scheduler.step()
        if progress:
            progress(info)

    val_ids = [pid for pid in split["val"] if data.records[pid].boxes]
    for epoch in range(start_epoch, epochs):
        loss = train_one_epoch_detector(
            model, optimizer, loader, device, scaler=scaler, amp=amp, progress=step_progress
        )
        recall = detection_recall(model, data, val_ids, device)
        history.append({"epoch": epoch + 1, "loss": round(loss, 4), **recall})
        if progress:
            progress({"stage": "detector_epoch", **history[-1], "epochs": epochs})
        score = recall["level_recall_iou50"] + recall["mean_iou"] / 100 if val_ids else best
        if not val_ids or score > best:  # without boxes to validate on, the latest weights
            best = score
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(
            {"config": config.as_dict(), "epoch": epoch + 1, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "best": best,
             "best_state": best_state, "history": history},
            resume,
        )  # fmt: skip
    model.load_state_dict(best_state)
    test_ids = [pid for pid in split["test"] if data.records[pid].boxes]
    return best_state, {"history": history, "val": detection_recall(model, data, val_ids, device),
                        "test": detection_recall(model, data, test_ids, device), "labels": labels,
                        "train_studies": len(train_ids)}  # fmt: skip


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


def _train_classifier(config, data: Reformats, split, device, amp, out: Path, progress) -> tuple[dict, list]:
    model = build_classifier(config.classifier).to(device)
    _warm_start(model, config, "classifier")
    train_set = ROIDataset(
        data.roi_samples(split["train"]),
        train=True,
        seed=config.seed,
        roi=config.roi,
    )
    val_set = ROIDataset(data.roi_samples(split["val"]), train=False, roi=train_set.roi)
    loader = DataLoader(
        train_set, batch_size=config.classifier_batch, shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    val_loader = DataLoader(val_set, batch_size=256)
    weights = train_set.class_weights().to(device) if config.class_weighting else None
    criterion = GradeLoss(weight=weights, label_smoothing=0.05, binary_weight=config.binary_loss_weight)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.classifier_lr, weight_decay=config.weight_decay
    )
    epochs = max(config.classifier_epochs, math.ceil(config.min_classifier_steps / max(1, len(loader))))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    scaler = torch.amp.GradScaler("cuda") if amp else None
    # Validation QWK jumps from epoch to epoch; an average of the weights is steadier to pick from.
    ema = (
        AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
        if config.ema_decay
        else None
    )
    kept = ema.module if ema is not None else model
    resume = out / "classifier_last.pt"
    start_epoch, best, best_state, history, stale = 0, -2.0, None, [], 0
    if resume.exists():
        state = torch.load(resume, map_location="cpu", weights_only=False)
        if state["config"] == config.as_dict():
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start_epoch, best, best_state = state["epoch"], state["best"], state["best_state"]
            history, stale = state["history"], state["stale"]
            if ema is not None:
                ema.load_state_dict(state["ema"])
    # Keep the epoch with the best validation QWK; without patience (the whole schedule runs to a
    # learning rate of 0) or with too few validation levels, the latest weights.
    selecting = config.patience is not None and len(val_set) >= MIN_VAL_LEVELS_TO_SELECT
    for epoch in range(start_epoch, epochs):
        if (
            config.patience is not None
            and stale >= config.patience
            and epoch * len(loader) >= config.min_classifier_steps
        ):
            break  # early stopping, once the minimum number of steps is done
        loss = train_one_epoch_classifier(
            model, optimizer, loader, device, criterion, scaler=scaler, amp=amp, progress=progress,
            after_step=(lambda: ema.update_parameters(model)) if ema is not None else None,
        )  # fmt: skip
        scheduler.step()
        probabilities, labels = predict_probabilities(kept, val_loader, device, amp=amp)
        predicted = probabilities.argmax(1)
        val_qwk = kappa(labels, predicted, weights="quadratic")
        validated = len(labels) > 0  # None, not NaN, without validation levels: JSON has no NaN
        history.append({"epoch": epoch + 1, "loss": round(loss, 4),
                        "val_qwk": round(val_qwk, 4) if validated else None,
                        "val_accuracy": round(float((labels == predicted).mean()), 4) if validated else None})  # fmt: skip
        if progress:
            progress({"stage": "classifier_epoch", **history[-1], "epochs": epochs})
        if val_qwk > best or not selecting:
            best, stale = max(best, val_qwk), 0
            best_state = {k: v.detach().cpu().clone() for k, v in kept.state_dict().items()}
        else:
            stale += 1
        torch.save(
            {"config": config.as_dict(), "epoch": epoch + 1, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "best": best,
             "best_state": best_state, "history": history, "stale": stale,
             "ema": ema.state_dict() if ema is not None else None},
            resume,
        )  # fmt: skip
    return best_state, history


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
    detector, classifier, data: Reformats, ids: list[str], device, *, amp: bool = False,
    binary_threshold: float = 0.5, roi: RoiInput = DEFAULT_ROI,
) -> dict:  # fmt: skip
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
