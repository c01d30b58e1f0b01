"""Inference on a whole CT study: per level the box, grade probabilities and uncertainty.

predictor = Predictor.from_checkpoint("var/models/run/model.pt")
levels = predictor.predict_study(files)          # or a CTVolume; no manifest needed
levels = predictor.predict_study(files, mc_samples=20)   # adds MC-dropout mutual information
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ml import LEVELS
from ml.acquisition import entropy, mutual_information
from ml.canal_ap import CanalApEstimator, canal_features
from ml.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from ml.data import RoiInput, crop_roi, to_channels
from ml.engine import detect_levels, enable_mc_dropout
from ml.imaging import CTVolume, load_ct_volume, sagittal_reformat
from ml.models import build_classifier, build_detector


@dataclass(frozen=True)
class LevelPrediction:
    level: str
    box: list[float]  # [x0, y0, x1, y1] in the sagittal reformat's pixels
    box_score: float  # 0 when the box was interpolated from neighbouring levels
    probabilities: list[float]  # grades 0-3
    grade: int
    binary_probability: float  # P(grade >= 2)
    significant: bool  # binary_probability at or above the threshold tuned on validation
    entropy: float
    mutual_information: float | None = None
    canal: list[float] | None = None  # the box's centre in patient mm: the canal's centre at the level
    canal_ap_mm: float | None = None  # the model's caliper reading of the canal's AP diameter (ml.canal_ap)

    def as_dict(self) -> dict:
        return asdict(self)


class Predictor:
    def __init__(self, bundle: dict, *, device: str | None = None) -> None:
        if bundle.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a pipeline checkpoint (format {bundle.get('format')!r})")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.config = bundle["config"]
        self.metrics = bundle.get("metrics", {})
        self.binary_threshold = float(bundle["classifier"].get("binary_threshold", 0.5))
        self.roi = RoiInput.from_config(self.config)
        self.detector = build_detector(bundle["detector"]["name"])
        self.detector.load_state_dict(bundle["detector"]["state"])
        self.detector.to(self.device).eval()
        self.classifier = build_classifier(bundle["classifier"]["name"])
        self.classifier.load_state_dict(bundle["classifier"]["state"])
        self.classifier.to(self.device).eval()
        self.canal_ap = CanalApEstimator.from_dict(bundle.get("canal_ap"))

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | None = None) -> "Predictor":
        return cls(load_checkpoint(path), device=device)

    @torch.no_grad()
    def predict_study(
        self, study: CTVolume | Sequence[str | Path], *, mc_samples: int = 0
    ) -> list[LevelPrediction]:
        volume = study if isinstance(study, CTVolume) else load_ct_volume(study)
        reformat = sagittal_reformat(volume)
        return [
            replace(p, canal=[round(float(v), 3) for v in np.mean(reformat.box_to_patient(p.box), axis=0)])
            for p in self.predict_reformat(reformat.image, mc_samples=mc_samples)
        ]

    @torch.no_grad()
    def predict_reformat(self, image: np.ndarray, *, mc_samples: int = 0) -> list[LevelPrediction]:
        """The same on a study's sagittal reformat (HU), when it is at hand already."""
        found = detect_levels(self.detector, [torch.from_numpy(to_channels(image))], self.device)[0]
        levels = [level for level in LEVELS if level in found]
        if not levels:
            return []
        crops = torch.from_numpy(
            np.stack([crop_roi(image, found[level][0], roi=self.roi) for level in levels])
        ).to(self.device)
        diameters = self.canal_ap.predict(canal_features(crops))
        self.classifier.eval()
        probabilities = torch.softmax(self.classifier(crops).float(), dim=1).cpu().numpy()
        information = None
        if mc_samples > 0:
            enable_mc_dropout(self.classifier)
            samples = np.stack(
                [
                    torch.softmax(self.classifier(crops).float(), dim=1).cpu().numpy()
                    for _ in range(mc_samples)
                ]
            )
            self.classifier.eval()
            information = mutual_information(samples)
        return [
            LevelPrediction(
                level=level,
                box=found[level][0],
                box_score=round(found[level][1], 4),
                probabilities=[round(float(p), 5) for p in probabilities[k]],
                grade=int(probabilities[k].argmax()),
                binary_probability=round(float(probabilities[k][2:].sum()), 5),
                significant=bool(probabilities[k][2:].sum() >= self.binary_threshold),
                entropy=round(float(entropy(probabilities[k])), 5),
                mutual_information=None if information is None else round(float(information[k]), 5),
                canal_ap_mm=round(float(diameters[k]), 2),
            )
            for k, level in enumerate(levels)
        ]
