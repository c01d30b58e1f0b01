"""A cohort as the training loop holds it: every CT's sagittal reformat, and per level the box its crop
is cut from (a reader's box, else a reader's or the model's level position, else the finder's)."""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ml import LEVELS
from ml.config import TrainConfig
from ml.data import BOX_SOURCES, StudyRecord, load_cohort, patient_split, study_level_boxes
from ml.imaging import load_ct_volume, sagittal_reformat


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


def load_data(config: TrainConfig, progress: Callable[[dict], None] | None = None) -> tuple[Reformats, dict]:
    """The cohort's reformats and its patient split."""
    records = load_cohort(config.cohort, config.labels_csv)
    if config.max_patients:
        records = records[: config.max_patients]
    split_seed = config.seed if config.split_seed is None else config.split_seed
    split = patient_split([r.patient_id for r in records], ratios=config.split_ratios, seed=split_seed)
    return Reformats.load(records, progress), split
