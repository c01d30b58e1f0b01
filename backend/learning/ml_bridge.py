"""The only door from Django into `ml`: file paths in, plain dataclasses and dicts out."""

from functools import lru_cache
from pathlib import Path

from ml.predict import LevelPrediction, Predictor


@lru_cache(maxsize=4)
def _predictor(checkpoint: str) -> Predictor:
    return Predictor.from_checkpoint(checkpoint, device="cpu")


def predict_study(*, checkpoint: str, ct_files: list[Path], mc_samples: int = 0) -> list[LevelPrediction]:
    return _predictor(checkpoint).predict_study(ct_files, mc_samples=mc_samples)


def checkpoint_summary(*, checkpoint: str) -> dict:
    predictor = _predictor(checkpoint)
    return {"config": predictor.config, "metrics": predictor.metrics}
