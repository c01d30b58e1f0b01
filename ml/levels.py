"""The model-free level finder: the six cervical disc levels of a CT or a sagittal T2 MR study.

Classical image analysis on the mid-sagittal image, no model and no labels, so that a study has
level positions the moment it is ingested, and a baseline the trained detector must beat:

1. the vertebral column's centre line: on CT from the anterior bone edge of the bodies, on T2
   from the chain of bright discs;
2. the intensity profile along that line across the middle of the bodies: on CT the discs are
   dips between bright bodies, on T2 peaks between intermediate ones;
3. the gaps between bodies, counted from the top: the image's first disc is C2/3 (cervical
   protocols start inside C2; on MR the tall C2 body confirms it). Irregular spacing marks a
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
from scipy.ndimage import (
    find_objects,
    gaussian_filter,
    gaussian_filter1d,
    label,
    map_coordinates,
    median_filter,
)

from ml import LEVELS
from ml.imaging import BONE_HU, CTVolume, ImagingError, SagittalImage, load_ct_volume, sagittal_reformat
from ml.level_profile import dip_discs, label_discs, mr_discs, refill

C2_MIN_HEIGHT_MM = 25.0  # the dens and C2's body together; no other cervical body is that tall
MR_BODY_AP_MM = 16.0
CT_BODY_HALF_WIDTH_MM = 14.0  # the body, not both transverse processes
MR_DEPARTURE_CLIP = 0.35
MR_DISC_SMOOTH_MM = 2.5


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


# ---- the column, the profile and the gaps -----------------------------------------------------


@dataclass
class _Column:
    """The spine's centre line in a sagittal image: col = poly(row), and the bodies' AP depth."""

    poly: np.ndarray
    body_ap_px: float
    rows: tuple[int, int]  # the rows where the column was seen

    def col(self, rows: np.ndarray) -> np.ndarray:
        return np.polyval(self.poly, rows)

    def slope(self, rows: np.ndarray) -> np.ndarray:
        return np.polyval(np.polyder(self.poly), rows)


def _robust_poly(
    rows: np.ndarray, cols: np.ndarray, *, degree: int, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """A polynomial fit that drops outliers (rows where another structure was taken for the column)."""
    keep = np.ones(len(rows), bool)
    poly = np.zeros(degree + 1)
    for _ in range(6):
        if keep.sum() <= degree + 2:
            break
        poly = np.polyfit(rows[keep], cols[keep], degree)
        residual = np.abs(np.polyval(poly, rows) - cols)
        scale = max(tolerance, 2.5 * float(np.median(residual[keep])))
        new_keep = residual <= scale
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return poly, keep


def _ct_column(image: np.ndarray, px: float) -> _Column | None:
    """From the anterior edge of the bone run that is the vertebral body, row by row."""
    bone = gaussian_filter(image, 1.0) > BONE_HU * 0.65
    min_run = int(round(6.0 / px))
    rows, starts, lengths = [], [], []
    for r in range(bone.shape[0]):
        line = bone[r]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], line.view(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start >= min_run:
                rows.append(r)
                starts.append(start)
                lengths.append(stop - start)
                break
    if len(rows) < 0.3 * bone.shape[0]:
        return None
    rows_a, starts_a, lengths_a = np.array(rows, float), np.array(starts, float), np.array(lengths, float)
    degree = 3 if bone.shape[0] * px > 80 else 2
    poly, keep = _robust_poly(rows_a, starts_a, degree=degree, tolerance=2.0 / px)
    body_ap = float(np.median(lengths_a[keep]))
    centre = poly.copy()
    centre[-1] += body_ap / 2
    return _Column(centre, body_ap, (int(rows_a[keep].min()), int(rows_a[keep].max())))


def _mr_column(image: np.ndarray, px: float) -> _Column | None:
    """From the CSF column: its front edge is the back of the bodies and discs; the bodies' centre
    line lies half a body's depth in front of it. Skin fat is as long and can be as bright, so the
    candidates (long bright columns, nearest the middle of the field of view first) must have
    vertebral bodies in front of them: intermediate signal, not muscle's or air's."""
    smooth = gaussian_filter(image, 1.0)
    top = float(np.percentile(smooth, 99.9))
    for share in (0.8, 0.6):
        bright = smooth > share * top
        blobs, _ = label(bright)
        boxes = [b for b in find_objects(blobs) if b is not None and (b[0].stop - b[0].start) * px >= 20.0]
        boxes.sort(key=lambda b: abs((b[1].start + b[1].stop) / 2 - image.shape[1] / 2))
        for box in boxes[:4]:
            back = _column_in_front_of(bright, box, px)
            if back is None:
                continue
            column = _mr_body_front(image, back, px)
            brightness = float(np.percentile(image[box][blobs[box] > 0], 95))
            bodies = float(np.median(_profile(image, column, width=0.5)))
            if bodies >= 0.3 * brightness:
                return column
    return None


def _column_in_front_of(bright: np.ndarray, box: tuple[slice, slice], px: float) -> _Column | None:
    """The front edge of a bright column, row by row, within a band around the blob (all rows: a
    narrowed canal breaks the CSF into pieces)."""
    centre_col = (box[1].start + box[1].stop) / 2
    half = max(15.0 / px, (box[1].stop - box[1].start) / 2 + 3.0 / px)
    band = np.abs(np.arange(bright.shape[1]) - centre_col) <= half
    rows, fronts = [], []
    for r in range(bright.shape[0]):
        cols = np.flatnonzero(bright[r] & band)
        if cols.size:
            rows.append(r)
            fronts.append(cols[0])
    if len(rows) < 0.3 * bright.shape[0]:
        return None
    rows_a, fronts_a = np.array(rows, float), np.array(fronts, float)
    degree = 3 if np.ptp(rows_a) * px > 120 else 2
    back, keep = _robust_poly(rows_a, fronts_a, degree=degree, tolerance=1.5 / px)
    seen = (int(rows_a[keep].min()), int(rows_a[keep].max()))
    return _Column(back, 0.0, seen)


def _mr_body_front(image: np.ndarray, back: _Column, px: float) -> _Column:
    """The bodies' centre line between their back and front edges: the run of marrow signal bounded
    by the dark cortex, row by row (disc rows start no run and are skipped). Found first around the
    CSF's front (`back`); where the anterior CSF is effaced that may be the CSF behind the cord,
    whose run is as long, so the most anterior run that starts near the back line is taken. Then
    again around that first centre line, which follows the curve closer than the CSF did."""
    rows = np.arange(back.rows[0], back.rows[1] + 1, 2, dtype=float)
    first = _marrow_runs(image, back, rows, px, depth_mm=(-8.0, 40.0), near_start_mm=(-6.0, 12.0))
    if first is None:
        poly = back.poly.copy()
        poly[-1] -= (1.0 + MR_BODY_AP_MM / 2) / px
        return _Column(poly, MR_BODY_AP_MM / px, back.rows)
    column = first
    for _ in range(2):
        again = _marrow_runs(image, column, rows, px, depth_mm=(-20.0, 20.0), near_middle_mm=5.0)
        if again is None:
            break
        column = again
    return column


def _marrow_runs(image: np.ndarray, line: _Column, rows: np.ndarray, px: float, *,
                 depth_mm: tuple[float, float], near_start_mm: tuple[float, float] | None = None,
                 near_middle_mm: float | None = None) -> _Column | None:  # fmt: skip
    """The centre line of the marrow runs along the normals of `line` (depth positive anterior):
    per row the most anterior run starting within `near_start_mm`, or the run whose middle is
    nearest the line and within `near_middle_mm`."""
    slope = line.slope(rows)
    norm = np.sqrt(1 + slope**2)
    depth = np.arange(depth_mm[0] / px, depth_mm[1] / px)
    rr = rows[:, None] + depth[None, :] * (slope / norm)[:, None]
    cc = line.col(rows)[:, None] - depth[None, :] / norm[:, None]
    lines = gaussian_filter1d(map_coordinates(image, [rr, cc], order=1, mode="nearest"), 0.7, axis=1)
    if near_start_mm is not None:
        zero = int(-depth_mm[0] / px)
        marrow = float(np.median(lines[:, zero + int(3.0 / px) : zero + int(8.0 / px)]))
    else:
        zero = int(-depth_mm[0] / px)
        marrow = float(np.median(lines[:, zero - int(3.0 / px) : zero + int(3.0 / px)]))
    mids, lengths, kept = [], [], []
    for r, profile in zip(rows, lines, strict=True):
        inside = (profile > 0.6 * marrow) & (profile < 1.45 * marrow)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.view(np.int8), [0]])))
        best, best_score = None, None
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if start == 0 or stop == len(profile) or not 8.0 <= (stop - start) * px <= 28.0:
                continue
            middle = (depth[start] + depth[stop - 1]) / 2
            if near_start_mm is not None:
                if not near_start_mm[0] <= depth[start] * px <= near_start_mm[1]:
                    continue
                score = -start
            else:
                if abs(middle) * px > near_middle_mm:
                    continue
                score = abs(middle)
            if best_score is None or score < best_score:
                best, best_score = (start, stop), score
        if best is not None:
            mids.append((depth[best[0]] + depth[best[1] - 1]) / 2)
            lengths.append(best[1] - best[0])
            kept.append(r)
    if len(kept) < 10:
        return None
    degree = 3 if np.ptp(kept) * px > 120 else 2
    mid_poly, keep = _robust_poly(np.array(kept), np.array(mids, float), degree=degree, tolerance=1.5 / px)
    body_ap = float(np.median(np.array(lengths)[keep]))
    seen = np.array(kept)[keep]
    return _Column(np.polysub(line.poly, mid_poly), body_ap, (int(seen.min()), int(seen.max())))


def _mr_signal(image: np.ndarray, column: _Column, px: float) -> np.ndarray:
    """How far the signal along the bodies' centre line departs from the bodies' level."""
    profile = _profile(image, column, width=0.5)
    body = median_filter(profile, size=int(round(36.0 / px)) | 1, mode="nearest")  # spans two bodies
    # Clipped, so that a bright healthy nucleus does not dwarf a degenerated disc's dark endplates;
    # smoothed over a disc's height, so that the two endplates and the nucleus make one peak.
    departure = np.minimum(np.abs(profile - body), MR_DEPARTURE_CLIP * body)
    return gaussian_filter1d(departure, MR_DISC_SMOOTH_MM / px)


def _profile(image: np.ndarray, column: _Column, *, width: float = 0.6) -> np.ndarray:
    """Mean intensity across the middle of the bodies, perpendicular to the centre line, per row."""
    rows = np.arange(image.shape[0], dtype=float)
    slope = column.slope(rows)
    norm = np.sqrt(1 + slope**2)
    offsets = np.linspace(-width / 2, width / 2, 9) * column.body_ap_px
    rr = rows[:, None] - offsets[None, :] * (slope / norm)[:, None]
    cc = column.col(rows)[:, None] + offsets[None, :] / norm[:, None]
    samples = map_coordinates(image, [rr, cc], order=1, mode="nearest")
    return gaussian_filter1d(samples.mean(axis=1), 1.0)


def _canal_offset(image: np.ndarray, column: _Column, rows: np.ndarray, *, canal_is_bright: bool,
                  px: float) -> float | None:  # fmt: skip
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
        column = _ct_column(image, px)
        signal = None if column is None else -_profile(image, column)
        discs = [] if signal is None else dip_discs(signal, px)
    else:
        column = _mr_column(image, px)
        signal = None if column is None else _mr_signal(image, column, px)
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
