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
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from ml import LEVELS
from ml.canal_ap import canal_ap_fit
from ml.checkpoint import (
    CHECKPOINT_FORMAT,
    CLASS_NAMES,
    load_checkpoint,
    resume_load,
    resume_save,
    save_checkpoint,
)
from ml.config import TrainConfig, resolve_classifier
from ml.data import DetectionDataset, ROIDataset, detection_collate
from ml.engine import (
    ema_with_warmup,
    predict_probabilities,
    train_one_epoch_classifier,
    train_one_epoch_detector,
)
from ml.evaluate import binary_threshold_on, detection_recall, evaluate_split
from ml.losses import GradeLoss
from ml.metrics import kappa
from ml.models import build_classifier, build_detector
from ml.reformats import Reformats, load_data


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


def train(
    config: TrainConfig,
    *,
    progress: Callable[[dict], None] | None = None,
    data: tuple[Reformats, dict] | None = None,
) -> dict:
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
    config = resolve_classifier(config, training_levels=len(data.roi_samples(split["train"])))

    detector_state, detector_metrics = _train_detector(config, data, split, device, amp, out, progress)
    detector = build_detector(config.detector)
    detector.load_state_dict(detector_state)
    detector.to(device)

    classifier_state, classifier_history = _train_classifier(config, data, split, device, amp, out, progress)
    classifier = build_classifier(config.classifier)
    classifier.load_state_dict(classifier_state)
    classifier.to(device)

    canal_ap, canal_ap_metrics = canal_ap_fit(data, split, config.roi)
    threshold = binary_threshold_on(classifier, data, split["val"], device, amp=amp, roi=config.roi)
    test = evaluate_split(
        detector,
        classifier,
        data,
        split["test"],
        device,
        amp=amp,
        binary_threshold=threshold,
        roi=config.roi,
    )
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
        },
        "canal_ap": canal_ap.as_dict(),
        "metrics": {"test": test, "canal_ap": canal_ap_metrics},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    save_checkpoint(bundle, out / "model.pt")
    result = {
        "checkpoint": str(out / "model.pt"),
        "train_seconds": bundle["train_seconds"],
        "split_sizes": {k: len(v) for k, v in split.items()},
        "roi_sources": data.roi_source_counts(split["train"]),
        "detector": detector_metrics,
        "test": test,
        "canal_ap": canal_ap_metrics,
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
    bundle = load_checkpoint(config.init_from)
    if bundle[stage]["name"] == getattr(config, stage):
        model.load_state_dict(bundle[stage]["state"])


def _train_detector(config, data: Reformats, split, device, amp, out: Path, progress) -> tuple[dict, dict]:
    if config.detector_checkpoint:
        bundle = load_checkpoint(config.detector_checkpoint)
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
        dataset,
        batch_size=config.detector_batch,
        shuffle=True,
        collate_fn=detection_collate,
        generator=torch.Generator().manual_seed(config.seed),
    )
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
    if state := resume_load(resume, config.as_dict()):
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
        resume_save(
            resume,
            config.as_dict(),
            last=epoch == epochs - 1,
            epoch=epoch + 1,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            best=best,
            best_state=best_state,
            history=history,
        )
    model.load_state_dict(best_state)
    test_ids = [pid for pid in split["test"] if data.records[pid].boxes]
    return best_state, {
        "history": history,
        "val": detection_recall(model, data, val_ids, device),
        "test": detection_recall(model, data, test_ids, device),
        "labels": labels,
        "train_studies": len(train_ids),
    }


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
        train_set,
        batch_size=config.classifier_batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
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
    if state := resume_load(resume, config.as_dict()):
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
            model,
            optimizer,
            loader,
            device,
            criterion,
            scaler=scaler,
            amp=amp,
            progress=progress,
            after_step=(lambda: ema.update_parameters(model)) if ema is not None else None,
        )
        scheduler.step()
        probabilities, labels = predict_probabilities(kept, val_loader, device, amp=amp)
        predicted = probabilities.argmax(1)
        val_qwk = kappa(labels, predicted, weights="quadratic")
        validated = len(labels) > 0  # None, not NaN, without validation levels: JSON has no NaN
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(loss, 4),
                "val_qwk": round(val_qwk, 4) if validated else None,
                "val_accuracy": round(float((labels == predicted).mean()), 4) if validated else None,
            }
        )
        if progress:
            progress({"stage": "classifier_epoch", **history[-1], "epochs": epochs})
        if val_qwk > best or not selecting:
            best, stale = max(best, val_qwk), 0
            best_state = {k: v.detach().cpu().clone() for k, v in kept.state_dict().items()}
        else:
            stale += 1
        stopping = (
            config.patience is not None
            and stale >= config.patience
            and (epoch + 1) * len(loader) >= config.min_classifier_steps
        )
        resume_save(
            resume,
            config.as_dict(),
            last=epoch == epochs - 1 or stopping,
            epoch=epoch + 1,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            best=best,
            best_state=best_state,
            history=history,
            stale=stale,
            ema=ema.state_dict() if ema is not None else None,
        )
    return best_state, history
