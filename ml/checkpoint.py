"""The checkpoint bundle (`model.pt`) and the per-stage resume files: their format, one way to save them
and one way to load them.

A bundle holds both stages' weights with the config and metrics they came from, so `Predictor` needs
nothing else. Everything in it is plain (tensors, numbers, strings, lists, dicts), so it loads with
`weights_only=True`: opening a checkpoint runs no code from it. A bundle written before that rule
(numpy numbers in its metrics) still loads, with a warning, the old way.
"""

import logging
import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch

CHECKPOINT_FORMAT = "spine-stenosis-pipeline/1"
CLASS_NAMES = ["0", "1", "2", "3"]

logger = logging.getLogger(__name__)


def plain(value):
    """Numpy numbers, strings and arrays (values or keys), and tuples, as the plain Python values that
    weights_only loading accepts."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def save_checkpoint(bundle: dict, path: str | Path) -> None:
    states = {k: bundle[k] for k in ("detector", "classifier") if k in bundle}
    rest = plain({k: v for k, v in bundle.items() if k not in states})
    for stage, content in states.items():
        rest[stage] = {**plain({k: v for k, v in content.items() if k != "state"}), "state": content["state"]}
    torch.save(rest, path)


def load_checkpoint(path: str | Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        logger.warning("%s predates plain checkpoints: loaded with weights_only=False", path)
        return torch.load(path, map_location="cpu", weights_only=False)


def resume_load(path: Path, config: dict) -> dict | None:
    """The state a stage saved after its last finished epoch, if it ran with this very config."""
    if not path.exists():
        return None
    state = load_checkpoint(path)
    return state if state["config"] == plain(config) else None


RESUME_EVERY_S = 30.0  # a killed training loses at most this much; a short one is not slowed by writes
_resume_saved_at: dict[str, float] = {}


def resume_save(path: Path, config: dict, *, last: bool = False, **state) -> None:
    """Write a stage's state after an epoch: the first time, then at most every RESUME_EVERY_S, and
    always after its last epoch (a detector is tens of MB; a short run has hundreds of epochs)."""
    now = time.monotonic()
    if not last and now - _resume_saved_at.get(str(path), -math.inf) < RESUME_EVERY_S:
        return
    _resume_saved_at[str(path)] = now
    torch.save(
        {"config": plain(config), **{k: plain(v) if k == "history" else v for k, v in state.items()}}, path
    )
