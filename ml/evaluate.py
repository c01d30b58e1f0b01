"""Evaluate a pipeline checkpoint on a cohort: its own test split, or all of another cohort."""

from collections.abc import Callable

import torch

from ml.data import load_cohort
from ml.predict import Predictor
from ml.train import Reformats, evaluate_split


def evaluate_checkpoint(
    checkpoint: str, cohort: str, *, labels_csv: str | None = None, split: str = "test",
    progress: Callable[[dict], None] | None = None, device: str | None = None,
) -> dict:  # fmt: skip
    bundle = torch.load(checkpoint, map_location="cpu", weights_only=False)
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
        predictor.detector, predictor.classifier, data, list(data.records), predictor.device,
        binary_threshold=predictor.binary_threshold, roi=predictor.roi,
    )  # fmt: skip
