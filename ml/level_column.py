"""The vertebral column in a mid-sagittal image: its centre line and the intensity along it.

The first half of the level finder (ml.levels): on CT the centre line comes from the bodies'
anterior bone edge; on T2 from the CSF's front edge, then from the run of marrow signal between
the bodies' cortices, refined around itself. `column_profile` samples the image across the middle of the
bodies along that line; `mr_signal` turns a T2 profile into one peak per disc.
"""

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import (
    find_objects,
    gaussian_filter,
    gaussian_filter1d,
    label,
    map_coordinates,
    median_filter,
)

from ml.imaging import BONE_HU
from ml.level_profile import true_runs

MR_BODY_AP_MM = 16.0  # T2 shows no bone edge to measure it by when no marrow run is found
MR_DEPARTURE_CLIP = 0.35
MR_DISC_SMOOTH_MM = 2.5


@dataclass
class Column:
    """The spine's centre line in a sagittal image: col = poly(row), and the bodies' AP depth."""

    poly: np.ndarray
    body_ap_px: float
    rows: tuple[int, int]  # the rows where the column was seen

    def col(self, rows: np.ndarray) -> np.ndarray:
        return np.polyval(self.poly, rows)

    def slope(self, rows: np.ndarray) -> np.ndarray:
        return np.polyval(np.polyder(self.poly), rows)


def robust_poly(
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


def ct_column(image: np.ndarray, px: float) -> Column | None:
    """From the anterior edge of the bone run that is the vertebral body, row by row."""
    bone = gaussian_filter(image, 1.0) > BONE_HU * 0.65
    min_run = int(round(6.0 / px))
    rows, starts, lengths = [], [], []
    for r in range(bone.shape[0]):
        for start, stop in true_runs(bone[r]):
            if stop - start >= min_run:
                rows.append(r)
                starts.append(start)
                lengths.append(stop - start)
                break
    if len(rows) < 0.3 * bone.shape[0]:
        return None
    rows_a, starts_a, lengths_a = np.array(rows, float), np.array(starts, float), np.array(lengths, float)
    degree = 3 if bone.shape[0] * px > 80 else 2
    poly, keep = robust_poly(rows_a, starts_a, degree=degree, tolerance=2.0 / px)
    body_ap = float(np.median(lengths_a[keep]))
    centre = poly.copy()
    centre[-1] += body_ap / 2
    return Column(centre, body_ap, (int(rows_a[keep].min()), int(rows_a[keep].max())))


def mr_column(image: np.ndarray, px: float) -> Column | None:
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
            bodies = float(np.median(column_profile(image, column, width=0.5)))
            if bodies >= 0.3 * brightness:
                return column
    return None


def _column_in_front_of(bright: np.ndarray, box: tuple[slice, slice], px: float) -> Column | None:
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
    back, keep = robust_poly(rows_a, fronts_a, degree=degree, tolerance=1.5 / px)
    seen = (int(rows_a[keep].min()), int(rows_a[keep].max()))
    return Column(back, 0.0, seen)


def _mr_body_front(image: np.ndarray, back: Column, px: float) -> Column:
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
        return Column(poly, MR_BODY_AP_MM / px, back.rows)
    column = first
    for _ in range(2):
        again = _marrow_runs(image, column, rows, px, depth_mm=(-20.0, 20.0), near_middle_mm=5.0)
        if again is None:
            break
        column = again
    return column


def _marrow_runs(
    image: np.ndarray,
    line: Column,
    rows: np.ndarray,
    px: float,
    *,
    depth_mm: tuple[float, float],
    near_start_mm: tuple[float, float] | None = None,
    near_middle_mm: float | None = None,
) -> Column | None:
    """The centre line of the marrow runs along the normals of `line` (depth positive anterior):
    per row the most anterior run starting within `near_start_mm`, or the run whose middle is
    nearest the line and within `near_middle_mm`."""
    slope = line.slope(rows)
    norm = np.sqrt(1 + slope**2)
    depth = np.arange(depth_mm[0] / px, depth_mm[1] / px)
    rr = rows[:, None] + depth[None, :] * (slope / norm)[:, None]
    cc = line.col(rows)[:, None] - depth[None, :] / norm[:, None]
    lines = gaussian_filter1d(map_coordinates(image, [rr, cc], order=1, mode="nearest"), 0.7, axis=1)
    zero = int(-depth_mm[0] / px)  # the column of depth 0: the line itself
    # The marrow's level: just in front of the CSF's front, or around a centre line already found.
    near = (3.0, 8.0) if near_start_mm is not None else (-3.0, 3.0)
    marrow = float(np.median(lines[:, zero + int(near[0] / px) : zero + int(near[1] / px)]))
    mids, lengths, kept = [], [], []
    for r, profile in zip(rows, lines, strict=True):
        best, best_score = None, None
        for start, stop in true_runs((profile > 0.6 * marrow) & (profile < 1.45 * marrow)):
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
    mid_poly, keep = robust_poly(np.array(kept), np.array(mids, float), degree=degree, tolerance=1.5 / px)
    body_ap = float(np.median(np.array(lengths)[keep]))
    seen = np.array(kept)[keep]
    return Column(np.polysub(line.poly, mid_poly), body_ap, (int(seen.min()), int(seen.max())))


def mr_signal(image: np.ndarray, column: Column, px: float) -> np.ndarray:
    """How far the signal along the bodies' centre line departs from the bodies' level."""
    profile = column_profile(image, column, width=0.5)
    body = median_filter(profile, size=int(round(36.0 / px)) | 1, mode="nearest")  # spans two bodies
    # Clipped, so that a bright healthy nucleus does not dwarf a degenerated disc's dark endplates;
    # smoothed over a disc's height, so that the two endplates and the nucleus make one peak.
    departure = np.minimum(np.abs(profile - body), MR_DEPARTURE_CLIP * body)
    return gaussian_filter1d(departure, MR_DISC_SMOOTH_MM / px)


def column_profile(image: np.ndarray, column: Column, *, width: float = 0.6) -> np.ndarray:
    """Mean intensity across the middle of the bodies, perpendicular to the centre line, per row."""
    rows = np.arange(image.shape[0], dtype=float)
    slope = column.slope(rows)
    norm = np.sqrt(1 + slope**2)
    offsets = np.linspace(-width / 2, width / 2, 9) * column.body_ap_px
    rr = rows[:, None] - offsets[None, :] * (slope / norm)[:, None]
    cc = column.col(rows)[:, None] + offsets[None, :] / norm[:, None]
    samples = map_coordinates(image, [rr, cc], order=1, mode="nearest")
    return gaussian_filter1d(samples.mean(axis=1), 1.0)
