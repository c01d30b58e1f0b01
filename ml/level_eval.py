"""The level finder run over a cohort folder, scored against a synthetic manifest's truth."""

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml import LEVELS
from ml.imaging import ImagingError
from ml.levels import LevelFinding, find_ct_levels_in_files, find_mr_levels_in_files

WITHIN_MM = 3.0


def _dicom_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm")) or sorted(p for p in folder.glob("*") if p.is_file())


def _studies(root: Path, manifest: dict | None) -> list[tuple[str, Path | None, Path | None, dict | None]]:
    """(patient, CT folder, MR sagittal folder, manifest entry) for each patient of the cohort."""
    if manifest is not None:
        return [
            (p["patient_id"], root / p["ct"]["path"], root / p["mr"].get("sagittal_path", ""), p)
            for p in manifest["patients"]
        ]
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        ct = folder / "CT" if (folder / "CT").is_dir() else None
        mr = next((f for f in sorted(folder.glob("MR*SAG*")) if f.is_dir()), None)
        found.append((folder.name, ct, mr, None))
    return found


def _errors(finding: LevelFinding, patient: dict, key: str) -> dict[str, float | None]:
    """Per level: the distance (mm) from the found disc centre to the truth; None when not found."""
    errors: dict[str, float | None] = {}
    for truth in patient["levels"]:
        if key not in truth:
            raise ValueError(
                f"the manifest has no {key!r}: regenerate the cohort with this version of ml.synthetic"
            )
        found = finding.level(truth["level"])
        errors[truth["level"]] = (
            None if found is None else float(np.linalg.norm(np.subtract(found.centre, truth[key])))
        )
    return errors


def evaluate_levels(cohort: str | Path, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the finder on every CT and MR sagittal study; with a manifest, the share within 3 mm."""
    root = Path(cohort)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    studies = _studies(root, manifest)
    seconds: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, dict[str, list[float | None]]] = {"CT": defaultdict(list), "MR": defaultdict(list)}
    per_study = []
    for done, (patient_id, ct_folder, mr_folder, entry) in enumerate(studies, start=1):
        row: dict = {"patient_id": patient_id}
        for modality, folder, finder, key in (
            ("CT", ct_folder, find_ct_levels_in_files, "ct_disc_centre_mm"),
            ("MR", mr_folder, find_mr_levels_in_files, "mr_disc_centre_mm"),
        ):
            if folder is None or not folder.is_dir():
                continue
            started = time.perf_counter()
            try:
                finding = finder(_dicom_files(folder))
            except ImagingError as error:
                row[modality] = {"error": str(error)}
                continue
            seconds[modality].append(time.perf_counter() - started)  # reading the files included
            row[modality] = {"missing": list(finding.missing), "notes": list(finding.notes)}
            if entry is not None:
                for level, error in _errors(finding, entry, key).items():
                    errors[modality][level].append(error)
                row[modality]["error_mm"] = {
                    lv: None if e is None else round(e, 2) for lv, e in _errors(finding, entry, key).items()
                }
        per_study.append(row)
        if progress:
            progress(done, len(studies))
    result: dict = {"cohort": str(root), "studies": len(studies)}
    for modality in ("CT", "MR"):
        key = modality.lower()
        if seconds[modality]:
            result[f"{key}_median_seconds"] = round(float(np.median(seconds[modality])), 4)
        if manifest is None or not errors[modality]:
            continue
        every = [e for level in LEVELS for e in errors[modality][level]]
        result[f"{key}_within_3mm"] = round(_share_within(every), 4)
        result[f"{key}_found"] = round(sum(e is not None for e in every) / len(every), 4)
        result[f"{key}_median_error_mm"] = round(
            float(np.median([e for e in every if e is not None] or [np.nan])), 2
        )
        result[f"{key}_per_level_within_3mm"] = {
            level: round(_share_within(errors[modality][level]), 4) for level in LEVELS
        }
    result["per_study"] = per_study
    return result


def _share_within(errors: list[float | None]) -> float:
    return sum(e is not None and e <= WITHIN_MM for e in errors) / max(len(errors), 1)
