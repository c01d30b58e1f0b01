"""One epoch of training and one pass of evaluation, for the detector and for the classifier."""

import contextlib
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml.models.classifiers import NUM_GRADES
from ml.models.detector import complete_levels, postprocess_levels

ProgressFn = Callable[[dict], None]


def autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def ema_with_warmup(decay: float):
    """An AveragedModel update whose decay ramps up as min(decay, (1 + n) / (10 + n)) over its n
    updates. A fixed decay keeps decay**n of the first weights and buffers: after the 300 steps of
    a short training, 5% of the initial BatchNorm variance (1.0, about ten times a trained one),
    enough to shift every grade by one in evaluation."""

    def update(
        ema_tensors: list[torch.Tensor], tensors: list[torch.Tensor], n_averaged: torch.Tensor
    ) -> None:
        weight = 1 - min(decay, (1 + float(n_averaged)) / (10 + float(n_averaged)))
        if torch.is_floating_point(ema_tensors[0]):
            torch._foreach_lerp_(ema_tensors, tensors, weight)
        else:  # BatchNorm's batch counters
            for ema_tensor, tensor in zip(ema_tensors, tensors, strict=True):
                ema_tensor.copy_(tensor)

    return update


def backward_and_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None
) -> None:
    """One optimisation step, through the gradient scaler under mixed precision."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def train_one_epoch_detector(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
    progress: ProgressFn | None = None,
) -> float:
    model.train()
    losses = []
    for images, targets in loader:
        images = [image.to(device) for image in images]
        targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
        with autocast(device, amp):
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values())
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"detector loss is {loss.item()}: {loss_dict}")
        backward_and_step(loss, optimizer, scaler)
        losses.append(loss.item())
        if progress:
            progress({"stage": "detector", "loss": loss.item()})
    return float(np.mean(losses))


@torch.no_grad()
def detect_levels(model: nn.Module, images: list[torch.Tensor], device: torch.device) -> list[dict]:
    """Per image: level -> (box, score), one box per level in anatomical order; missed levels are
    interpolated from the found ones (score 0)."""
    model.eval()
    outputs = model([image.to(device) for image in images])
    return [
        complete_levels(postprocess_levels(o["boxes"].cpu(), o["labels"].cpu(), o["scores"].cpu()))
        for o in outputs
    ]


def train_one_epoch_classifier(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
    criterion: nn.Module,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
    progress: ProgressFn | None = None,
    after_step: Callable[[], None] | None = None,
) -> float:
    model.train()
    total, count = 0.0, 0
    for crops, grades in loader:
        crops, grades = crops.to(device), grades.to(device)
        with autocast(device, amp):
            loss = criterion(model(crops), grades)
        backward_and_step(loss, optimizer, scaler)
        if after_step:
            after_step()
        total += loss.item() * len(grades)
        count += len(grades)
        if progress:
            progress({"stage": "classifier", "loss": loss.item()})
    return total / max(count, 1)


@torch.no_grad()
def predict_probabilities(model: nn.Module, loader: DataLoader, device: torch.device, *, amp: bool = False):
    """Softmax probabilities and the labels of every sample in the loader."""
    model.eval()
    probabilities, labels = [], []
    for crops, grades in loader:
        with autocast(device, amp):
            logits = model(crops.to(device))
        probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
        labels.append(torch.as_tensor(grades))
    if not probabilities:  # e.g. a validation split without graded levels
        return np.zeros((0, NUM_GRADES), np.float32), np.zeros(0, np.int64)
    return torch.cat(probabilities).numpy(), torch.cat(labels).numpy()


def enable_mc_dropout(model: nn.Module) -> None:
    """Eval mode everywhere except dropout layers, which keep sampling."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
