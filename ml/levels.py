"""The model-free level finder: the six cervical disc levels of a CT or a sagittal T2 MR study.

Classical image analysis on the mid-sagittal image, no model and no labels, so that a study has
level positions the moment it is ingested, and a baseline the trained detector must beat:

1. the vertebral column's centre line (ml.level_column): on CT from the anterior bone edge of
   the bodies, on T2 from the CSF's front and the run of marrow between the bodies' cortices;
2. the intensity profile along that line across the middle of the bodies: on CT the discs are
   dips between bright bodies, on T2 departures from the marrow (a bright nucleus, dark endplates);
3. the gaps between bodies, counted from the top: the image's first disc is C2/3 (cervical
   protocols start inside C2; on MR it is the first disc below a C2-tall stretch). Irregular spacing marks a
   level as not found rather than shifting every label below it;
4. per level, the disc centre, the disc plane's normal (along the centre line) and the canal's
   centre (halfway between the bodies' back and the laminae, at the neighbouring bodies), in
   the study's own patient coordinates.

A level that is not seen (cut off by the field of view, an unreadable disc) is listed in
`missing`, never guessed.
"""

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from scipy.ndimage import gaussian_filter1d, map_coordinates

from ml import LEVELS
from ml.imaging import BONE_HU, CTVolume, ImagingError, SagittalImage, load_ct_volume, sagittal_reformat
from ml.level_column import Column, column_profile, ct_column, mr_column, mr_signal
from ml.level_profile import dip_discs, label_discs, mr_discs, refill

C2_MIN_HEIGHT_MM = 25.0  # the dens and C2's body together; no other cervical body is that tall
CT_BODY_HALF_WIDTH_MM = 14.0  # the body, not both transverse processes


@dataclass(frozen=True)
class FoundLevel:
    level: str
    centre: tuple[float, float, float]  # the disc's centre, patient mm
    normal: tuple[float, float, float]  # the disc plane's unit normal, pointing superiorly
    canal: tuple[float, float, float] | None  # the canal's centre at the level
    confidence: float  # 0-1


@dataclass(frozen=True)
class LevelFinding:
    modality: str  # CT | MR
    series_uid: str
    levels: tuple[FoundLevel, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    def level(self, name: str) -> FoundLevel | None:
        return next((lv for lv in self.levels if lv.level == name), None)

    def as_dict(self) -> dict:
        return asdict(self)


def _canal_offset(
    image: np.ndarray, column: Column, rows: np.ndarray, *, canal_is_bright: bool, px: float
) -> float | None:
    """Distance (pixels, posterior along the centre line's normal) from the centre line to the canal's
    centre, measured at body rows: between the bodies' back and the arch (CT), or across the bright
    canal (T2)."""
    half = column.body_ap_px / 2
    depth = np.arange(half * 0.6, half + 30.0 / px)
    found = []
    for r in rows:
        slope = float(column.slope(np.array([r]))[0])
        norm = np.hypot(1.0, slope)
        line = map_coordinates(
            image,
            [r - depth * slope / norm, column.col(np.array([r]))[0] + depth / norm],
            order=1,
            mode="nearest",
        )
        line = gaussian_filter1d(line, 1.0)
        if canal_is_bright:
            bright = np.flatnonzero(line > 0.6 * np.percentile(image, 99.5))
            if bright.size and depth[bright[0]] < half + 10.0 / px:
                run = bright[np.concatenate([[True], np.diff(bright) <= 3.0 / px])]
                found.append((depth[run[0]] + depth[run[-1]]) / 2)
        else:
            soft = line < BONE_HU * 0.65
            back = np.flatnonzero(soft)
            if not back.size:
                continue
            arch = np.flatnonzero(~soft[back[0] :])
            if arch.size and 5.0 / px <= arch[0] <= 28.0 / px:
                found.append(depth[back[0]] + arch[0] / 2)
    return float(np.median(found)) if found else None


def _below_c2(discs: list, px: float) -> tuple[list, list[str]]:
    """The discs from C2/3 down: C2/3 is the first disc below a stretch of column without a disc
    that is as tall as C2 with its dens (the MR field of view shows the skull base); what lies
    above it (the clivus, a flow artefact) is not a cervical disc."""
    above = 0.0
    for index, disc in enumerate(discs):
        if (disc.row - above) * px >= C2_MIN_HEIGHT_MM:
            return discs[index:], []
        above = disc.row
    top = discs[0].row * px
    return discs, [f"the image's top disc lies {top:.0f} mm below its edge: C2 not confirmed"]


def _find(sagittal: SagittalImage, *, modality: str) -> tuple[dict[str, tuple], list[str]]:
    """Per level found: (centre, normal, canal or None, confidence) in patient coordinates."""
    image, px = sagittal.image, sagittal.pixel_mm
    notes: list[str] = []
    if modality == "CT":
        column = ct_column(image, px)
        signal = None if column is None else -column_profile(image, column)
        discs = [] if signal is None else dip_discs(signal, px)
    else:
        column = mr_column(image, px)
        signal = None if column is None else mr_signal(image, column, px)
        discs = [] if signal is None else mr_discs(signal, px)
    if signal is not None:
        discs = refill(discs, signal, px)
    if column is None:
        return {}, ["no vertebral column found in the mid-sagittal image"]
    margin = 15.0 / px
    discs = [d for d in discs if column.rows[0] - margin <= d.row <= column.rows[1] + margin]
    if modality == "MR" and discs:
        discs, note = _below_c2(discs, px)
        notes += note
    labelled = label_discs(discs, px)
    found = {}
    for name, (disc, confidence) in labelled.items():
        row = np.array([disc.row])
        col = float(column.col(row)[0])
        slope = float(column.slope(row)[0])
        centre = sagittal.to_patient(disc.row, col)
        down = sagittal.to_patient(disc.row + 1.0, col + slope) - centre
        normal = -down / np.linalg.norm(down)
        near = np.arange(disc.row - 12.0 / px, disc.row + 12.0 / px, 1.0)
        near = near[(near >= 0) & (near < image.shape[0])]
        body_rows = near[np.abs(near - disc.row) >= 5.0 / px]
        offset = _canal_offset(image, column, body_rows, canal_is_bright=modality == "MR", px=px)
        canal = None
        if offset is not None:
            norm = np.hypot(1.0, slope)
            canal = sagittal.to_patient(disc.row - offset * slope / norm, col + offset / norm)
        found[name] = (centre, normal, canal, confidence)
    return found, notes


# ---- CT and MR studies ------------------------------------------------------------------------


def _refine_ct_x(volume: CTVolume, centre: np.ndarray, normal: np.ndarray) -> float:
    """The disc's left-right centre: the bone centroid of the bodies just above and below it, in a
    window narrower than the transverse processes, re-centred until it settles (a window off the
    midline would take one side's process and not the other's)."""
    bands = []
    for side in (-1, 1):
        z = centre[2] + side * 8.0 * normal[2]
        k = int(np.argmin(np.abs(volume.z - z)))
        if abs(volume.z[k] - z) > 3.0:  # that body is outside the field of view
            continue
        row = int(round((centre[1] + side * 8.0 * normal[1] - volume.y0) / volume.row_spacing))
        half_rows = int(round(5.0 / volume.row_spacing))
        bone = volume.hu[k, max(row - half_rows, 0) : row + half_rows + 1] > BONE_HU * 0.65
        bands.append(bone.sum(axis=0))
    x = volume.x0 + np.arange(volume.hu.shape[2]) * volume.col_spacing
    estimate = float(centre[0])
    for _ in range(4):
        xs = []
        for counts in bands:
            weight = counts * (np.abs(x - estimate) <= CT_BODY_HALF_WIDTH_MM)
            if weight.sum() > 0:
                xs.append(float(np.sum(x * weight) / weight.sum()))
        if not xs:
            break
        estimate = float(np.mean(xs))
    return estimate


def find_ct_levels(volume: CTVolume, *, series_uid: str = "") -> LevelFinding:
    start = time.perf_counter()
    reformat = sagittal_reformat(volume)
    found, notes = _find(reformat.as_sagittal_image(), modality="CT")
    levels = []
    for name in LEVELS:
        if name not in found:
            continue
        centre, normal, canal, confidence = found[name]
        dx = _refine_ct_x(volume, centre, normal) - centre[0]
        centre = centre + [dx, 0, 0]
        canal = None if canal is None else canal + [dx, 0, 0]
        levels.append(_level(name, centre, normal, canal, confidence))
    return _finding("CT", series_uid, levels, notes, start)


def find_mr_levels(planes: "MRSagittalSeries", *, series_uid: str = "") -> LevelFinding:
    start = time.perf_counter()
    mid = len(planes.images) // 2
    found, notes = _find(planes.images[mid], modality="MR")
    levels = []
    for name in LEVELS:
        if name not in found:
            continue
        centre, normal, canal, confidence = found[name]
        if canal is not None:
            shift = np.array([_canal_x(planes, canal) - centre[0], 0.0, 0.0])
            centre, canal = centre + shift, canal + shift
        levels.append(_level(name, centre, normal, canal, confidence))
    return _finding("MR", series_uid, levels, notes, start)


def _canal_x(planes: "MRSagittalSeries", canal: np.ndarray) -> float:
    """The level's left-right centre: the bright CSF of the dural sac, weighed across the sagittal
    slices around the canal's centre (the sac is about 15 mm wide: several slices see it)."""
    weights, xs = [], []
    for image in planes.images:
        row, col = image.to_pixel(canal)
        half = 8.0 / image.pixel_mm
        r0, r1 = int(max(row - half, 0)), int(min(row + half + 1, image.image.shape[0]))
        c0, c1 = int(max(col - half, 0)), int(min(col + half + 1, image.image.shape[1]))
        patch = image.image[r0:r1, c0:c1]
        weights.append(float(np.percentile(patch, 90)) if patch.size else 0.0)
        xs.append(float(image.origin[0]))
    w = (np.array(weights) - min(weights)) ** 2
    return float(np.sum(np.array(xs) * w) / w.sum()) if w.sum() > 0 else float(canal[0])


def _level(name, centre, normal, canal, confidence) -> FoundLevel:
    def r(v):
        return tuple(round(float(c), 3) for c in v)

    return FoundLevel(name, r(centre), r(normal), None if canal is None else r(canal), float(confidence))


def _finding(modality, series_uid, levels, notes, start) -> LevelFinding:
    names = {lv.level for lv in levels}
    missing = tuple(name for name in LEVELS if name not in names)
    return LevelFinding(
        modality, series_uid, tuple(levels), missing, tuple(notes), round(time.perf_counter() - start, 4)
    )


@dataclass
class MRSagittalSeries:
    """A sagittal MR series as images sorted left to right, each oriented rows down, cols posterior."""

    images: list[SagittalImage]


def load_mr_sagittal(paths: Iterable[str | Path]) -> MRSagittalSeries:
    images = []
    for path in paths:
        ds = pydicom.dcmread(path)
        if getattr(ds, "Modality", None) != "MR":
            raise ImagingError(f"{path}: modality {getattr(ds, 'Modality', None)!r}, expected MR")
        images.append(SagittalImage.from_dataset(ds))
    if not images:
        raise ImagingError("no MR files given")
    images.sort(key=lambda im: float(im.origin[0]))
    return MRSagittalSeries(images)


def find_ct_levels_in_files(paths: Iterable[str | Path], *, series_uid: str = "") -> LevelFinding:
    return find_ct_levels(load_ct_volume(paths), series_uid=series_uid)


def find_mr_levels_in_files(paths: Iterable[str | Path], *, series_uid: str = "") -> LevelFinding:
    return find_mr_levels(load_mr_sagittal(paths), series_uid=series_uid)
