"""Cohorts as lists of studies with per-level labels, splits, and the two stages' datasets.

A cohort comes from a synthetic `manifest.json`, from a real cohort's CSV of reader grades, or
from a list of `StudyRecord`s handed in by the platform. Either way each study is an axial CT
series, reduced once to its mid-sagittal reformat (`ml.imaging`), on which the detector finds
one canal box per level and from which the classifier's crops are cut.
"""

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, map_coordinates
from torch.utils.data import Dataset

from ml import LEVELS
from ml.imaging import (
    REFORMAT_SPACING_MM,
    CTVolume,
    SagittalReformat,
    load_ct_volume,
    roi_box_around,
    sagittal_reformat,
    window,
)
from ml.levels import find_ct_levels

# Display windows (centre, width in HU) stacked as the three input channels. The detector's: bone,
# soft tissue, canal contents.
DETECTOR_WINDOWS = ((400.0, 1800.0), (40.0, 400.0), (20.0, 160.0))
# The classifier's: bone, canal contents, and a narrow window in which CSF (~0-15 HU) and cord
# (~20-30 HU) differ, so that whether any CSF is left around the cord shows.
ROI_WINDOWS = ((400.0, 1800.0), (20.0, 160.0), (18.0, 60.0))
CROP_SIZE = (48, 64)  # rows (cranio-caudal) x cols (antero-posterior)
# The training shift of a physical crop's centre (SD, mm; cranio-caudal, antero-posterior): 6% of a
# reader's mean ROI (14.8 x 25.5 mm), as box crops shift by 6% of their own box.
PHYSICAL_JITTER_SD_MM = (0.9, 1.5)
# How a level's box becomes the classifier's crop. "physical": CROP_SIZE of the reformat's own
# pixels (24 x 32 mm) centred on the box, so that a millimetre of canal is the same number of
# pixels in every crop (stenosis is absolute: the canal against a cord of ~8 mm); "box": the box
# stretched to CROP_SIZE, which scales every canal to the box's width (checkpoints from before
# roi_crop existed were trained so).
ROI_CROPS = ("physical", "box")


@dataclass(frozen=True)
class RoiInput:
    """What the classifier sees of a level: how its box is cropped and through which windows."""

    crop: str = "physical"
    windows: tuple[tuple[float, float], ...] = ROI_WINDOWS

    def __post_init__(self) -> None:
        if self.crop not in ROI_CROPS:
            raise ValueError(f"unknown roi_crop {self.crop!r}; known: {', '.join(ROI_CROPS)}")

    @classmethod
    def from_config(cls, config: dict) -> "RoiInput":
        """From a TrainConfig dict; checkpoints older than these keys used box crops through the
        detector's windows."""
        windows = config.get("roi_windows", DETECTOR_WINDOWS)
        return cls(
            crop=config.get("roi_crop", "box"), windows=tuple((float(c), float(w)) for c, w in windows)
        )


DEFAULT_ROI = RoiInput()


class CohortError(ValueError):
    """The cohort's files or labels cannot be used."""


@dataclass
class StudyRecord:
    """One CT study and what is known about its levels."""

    patient_id: str
    ct_files: list[Path]
    grades: dict[str, int] = field(default_factory=dict)  # level -> reference grade
    boxes: dict[str, list[float]] = field(default_factory=dict)  # level -> [x0, y0, x1, y1] in the reformat
    reader_grades: dict[str, dict[str, int]] = field(default_factory=dict)  # reader -> level -> grade
    reader_experience: dict[str, str] = field(default_factory=dict)
    # level -> (the canal's centre at the level in patient mm, its source: one of POSITION_SOURCES)
    positions: dict[str, tuple[list[float], str]] = field(default_factory=dict)
    canal_ap_mm: dict[str, float] = field(default_factory=dict)  # level -> a known canal AP diameter


# Where a graded level's crop comes from, best first: the reader's box, the level position a reader
# corrected, the champion model's, the model-free finder's (ml.levels).
POSITION_SOURCES = ("reader", "model", "finder")
BOX_SOURCES = ("reader_box", "reader_position", "model_position", "finder")


def load_synthetic_cohort(root: str | Path) -> list[StudyRecord]:
    root = Path(root)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise CohortError(f"{root} has no manifest.json")
    manifest = json.loads(manifest_path.read_text())
    experience = {r["name"]: r["experience"] for r in manifest.get("readers", [])}
    records = []
    for patient in manifest["patients"]:
        readers: dict[str, dict[str, int]] = defaultdict(dict)
        for level in patient["levels"]:
            for reader, grade in level.get("reader_grades", {}).items():
                readers[reader][level["level"]] = grade
        records.append(
            StudyRecord(
                patient_id=patient["patient_id"],
                ct_files=sorted((root / patient["ct"]["path"]).glob("*.dcm")),
                grades={lv["level"]: lv["grade"] for lv in patient["levels"]},
                boxes={lv["level"]: lv["roi_sagittal"] for lv in patient["levels"]},
                canal_ap_mm={
                    lv["level"]: lv["canal_ap_mm"] for lv in patient["levels"] if "canal_ap_mm" in lv
                },
                reader_grades=dict(readers),
                reader_experience=experience,
            )
        )
    return records


CSV_COLUMNS = ("patient_id", "level", "grade", "reader", "reader_experience")
BOX_COLUMNS = ("x0", "y0", "x1", "y1")


def load_csv_cohort(root: str | Path, labels_csv: str | Path | None = None) -> list[StudyRecord]:
    """A real cohort: root/<patient_id>/CT/*.dcm (or root/<patient_id>/*.dcm) and a CSV of grades.

    CSV columns: patient_id, level (C2/3 .. C7/T1), grade (0-3), reader, reader_experience
    (junior|senior); optional x0, y0, x1, y1 (the level's canal box in the sagittal reformat). Levels
    without a box are cropped where the model-free level finder places them.
    The reference grade of a level is the senior readers' median (the juniors' if no senior read it).
    """
    root = Path(root)
    labels_csv = Path(labels_csv) if labels_csv else root / "labels.csv"
    if not labels_csv.is_file():
        raise CohortError(f"no labels CSV at {labels_csv}")
    rows_by_patient: dict[str, list[dict]] = defaultdict(list)
    with labels_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise CohortError(f"{labels_csv}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            if row["level"] not in LEVELS:
                raise CohortError(f"{labels_csv}:{line}: unknown level {row['level']!r}")
            if row["grade"] not in {"0", "1", "2", "3"}:
                raise CohortError(f"{labels_csv}:{line}: grade must be 0-3, got {row['grade']!r}")
            if row["reader_experience"] not in {"junior", "senior"}:
                raise CohortError(f"{labels_csv}:{line}: reader_experience must be junior or senior")
            rows_by_patient[row["patient_id"]].append(row)
    records = []
    for patient_id, rows in sorted(rows_by_patient.items()):
        folder = root / patient_id / "CT" if (root / patient_id / "CT").is_dir() else root / patient_id
        files = sorted(folder.glob("*.dcm")) or sorted(p for p in folder.glob("*") if p.is_file())
        if not files:
            raise CohortError(f"no CT files for patient {patient_id} under {folder}")
        readers: dict[str, dict[str, int]] = defaultdict(dict)
        experience: dict[str, str] = {}
        boxes = {}
        for row in rows:
            readers[row["reader"]][row["level"]] = int(row["grade"])
            experience[row["reader"]] = row["reader_experience"]
            if all(row.get(c) not in (None, "") for c in BOX_COLUMNS):
                boxes[row["level"]] = [float(row[c]) for c in BOX_COLUMNS]
        records.append(
            StudyRecord(
                patient_id=patient_id,
                ct_files=files,
                grades=reference_grades(readers, experience),
                boxes=boxes,
                reader_grades=dict(readers),
                reader_experience=experience,
            )
        )
    return records


def reference_grades(readers: dict[str, dict[str, int]], experience: dict[str, str]) -> dict[str, int]:
    """Per level: the median grade of the senior readers, else of all readers (ties round up)."""
    reference = {}
    for level in LEVELS:
        seniors = [g[level] for r, g in readers.items() if level in g and experience.get(r) == "senior"]
        everyone = [g[level] for g in readers.values() if level in g]
        votes = seniors or everyone
        if votes:
            reference[level] = int(np.ceil(np.median(votes)))
    return reference


def load_cohort(root: str | Path, labels_csv: str | Path | None = None) -> list[StudyRecord]:
    root = Path(root)
    if (root / "manifest.json").is_file() and labels_csv is None:
        return load_synthetic_cohort(root)
    return load_csv_cohort(root, labels_csv)


def patient_split(
    patient_ids: Sequence[str], *, ratios: tuple[int, int, int] = (8, 1, 1), seed: int = 0
) -> dict[str, list[str]]:
    """Split patients (never levels) into train/val/test by the given ratios, reproducibly."""
    ids = sorted(set(patient_ids))
    if len(ids) < 3:
        raise CohortError("a split needs at least three patients")
    order = np.random.default_rng(seed).permutation(len(ids))
    total = sum(ratios)
    n_val = max(1, round(len(ids) * ratios[1] / total))
    n_test = max(1, round(len(ids) * ratios[2] / total))
    shuffled = [ids[i] for i in order]
    return {
        "train": sorted(shuffled[n_val + n_test :]),
        "val": sorted(shuffled[:n_val]),
        "test": sorted(shuffled[n_val : n_val + n_test]),
    }


def reformat_study(record: StudyRecord) -> SagittalReformat:
    return sagittal_reformat(load_ct_volume(record.ct_files))


def study_level_boxes(
    record: StudyRecord, volume: CTVolume, reformat: SagittalReformat
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Per level, the box its crop is cut from and the box's source (BOX_SOURCES), best first; the
    finder runs only when a graded level has nothing better."""
    boxes: dict[str, list[float]] = {}
    sources: dict[str, str] = {}
    for level in LEVELS:
        if level in record.boxes:
            boxes[level], sources[level] = list(record.boxes[level]), "reader_box"
        elif level in record.positions:
            point, source = record.positions[level]
            boxes[level], sources[level] = roi_box_around(reformat, point), f"{source}_position"
    if any(level not in boxes for level in record.grades):
        finding = find_ct_levels(volume)
        for level in record.grades:
            found = finding.level(level)
            if level not in boxes and found is not None and found.canal is not None:
                boxes[level], sources[level] = roi_box_around(reformat, found.canal), "finder"
    return boxes, sources


def to_channels(hu: np.ndarray, windows: Sequence[tuple[float, float]] = DETECTOR_WINDOWS) -> np.ndarray:
    """HU image to the float32 input, one channel per display window."""
    return np.stack([window(hu, center=c, width=w) for c, w in windows]).astype(np.float32)


class DetectionDataset(Dataset):
    """Reformat images with one box per level (label = level index + 1), torchvision's contract."""

    def __init__(
        self, images: list[np.ndarray], boxes: list[dict[str, list[float]]], *, train: bool, seed: int = 0
    ) -> None:
        self.images, self.boxes, self.train = images, boxes, train
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        hu = self.images[index]
        levels = [lv for lv in LEVELS if lv in self.boxes[index]]
        boxes = np.array([self.boxes[index][lv] for lv in levels], np.float32).reshape(-1, 4)
        if self.train:
            hu = hu + self.rng.normal(0, self.rng.uniform(0, 30), hu.shape).astype(np.float32)
            hu = hu * self.rng.uniform(0.93, 1.07)
        image = torch.from_numpy(to_channels(hu))
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor([LEVELS.index(lv) + 1 for lv in levels], dtype=torch.int64),
        }
        return image, target


def crop_roi(
    hu: np.ndarray,
    box: Sequence[float],
    *,
    roi: RoiInput = DEFAULT_ROI,
    jitter: np.random.Generator | None = None,
) -> np.ndarray:
    """The level's crop as the classifier's channels; optional random shift (and scale) jitter."""
    return to_channels(crop_hu(hu, box, crop=roi.crop, jitter=jitter), roi.windows)


def crop_hu(
    hu: np.ndarray,
    box: Sequence[float],
    *,
    crop: str = "physical",
    jitter: np.random.Generator | None = None,
) -> np.ndarray:
    """The level's crop (see ROI_CROPS) in HU, resampled to CROP_SIZE."""
    if crop not in ROI_CROPS:
        raise ValueError(f"unknown roi_crop {crop!r}; known: {', '.join(ROI_CROPS)}")
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if crop == "box":
        w, h = x1 - x0, y1 - y0
    else:
        h, w = CROP_SIZE[0] - 1, CROP_SIZE[1] - 1
    if jitter is not None and crop == "box":
        cx += jitter.normal(0, 0.06 * (x1 - x0))
        cy += jitter.normal(0, 0.06 * (y1 - y0))
        scale = jitter.uniform(0.92, 1.08)
        w, h = w * scale, h * scale
    elif jitter is not None:  # a physical crop keeps its scale (millimetres are what is graded) and
        # shifts by the same millimetres whoever drew the box, a reader's or one placed around a point
        cx += jitter.normal(0, PHYSICAL_JITTER_SD_MM[1] / REFORMAT_SPACING_MM)
        cy += jitter.normal(0, PHYSICAL_JITTER_SD_MM[0] / REFORMAT_SPACING_MM)
    rows = np.linspace(cy - h / 2, cy + h / 2, CROP_SIZE[0])
    cols = np.linspace(cx - w / 2, cx + w / 2, CROP_SIZE[1])
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return map_coordinates(hu, [rr, cc], order=1, mode="nearest").astype(np.float32)


def scanner_augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Imitate other scanners on an HU patch: correlated noise, softer or sharper kernels, calibration."""
    if rng.random() < 0.3:
        patch = gaussian_filter(patch, rng.uniform(0.3, 1.0))
    if rng.random() < 0.8:
        noise = gaussian_filter(rng.standard_normal(patch.shape).astype(np.float32), rng.uniform(0.3, 1.0))
        patch = patch + noise * (rng.uniform(0, 30) / max(float(noise.std()), 1e-6))
    return patch * rng.uniform(0.95, 1.05) + rng.uniform(-10, 10)


class ROIDataset(Dataset):
    """Per-level crops with their grade: the classifier's samples."""

    def __init__(
        self,
        samples: list[tuple[np.ndarray, list[float], int]],
        *,
        train: bool,
        seed: int = 0,
        roi: RoiInput = DEFAULT_ROI,
    ) -> None:
        self.samples, self.train, self.roi = samples, train, roi
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        hu, box, grade = self.samples[index]
        if self.train:
            patch = crop_hu(hu, box, crop=self.roi.crop, jitter=self.rng)
            crop = to_channels(scanner_augment(patch, self.rng), self.roi.windows)
        else:
            crop = crop_roi(hu, box, roi=self.roi)
        return torch.from_numpy(crop), grade

    def class_weights(self) -> torch.Tensor:
        """Square-root inverse-frequency weights for the loss: rare grades count more, without
        pushing grade 1 levels into grade 2."""
        counts = Counter(grade for _, _, grade in self.samples)
        total = sum(counts.values())
        weights = [(total / (4 * max(counts.get(g, 0), 1))) ** 0.5 for g in range(4)]
        return torch.tensor(weights, dtype=torch.float32).clamp(max=5.0)


def detection_collate(batch):
    return tuple(zip(*batch, strict=True))
