"""Discs along a profile of the spine: the one-dimensional half of the level finder (ml.levels).

The signal runs along the vertebral column's centre line, one value per image row, high where a
disc is (CT: the HU dip between bodies, negated; T2: the departure from the bodies' level). These
functions find the discs in it, look again where the spacing says one was missed, and name them
from the top.
"""

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from ml import LEVELS

SPACING_RANGE_MM = (11.0, 30.0)  # disc to disc along the spine (body 12-18 mm + disc 3-8 mm)
DISC_HEIGHT_RANGE_MM = (1.5, 12.0)
MIN_CONFIDENCE = 0.15


@dataclass
class Disc:
    row: float
    strength: float  # 0-1: how clearly the disc stands out of the bodies around it


def mr_discs(departure: np.ndarray, px: float) -> list[Disc]:
    """Discs along the bodies' centre line: wherever the profile departs from the bodies' level,
    brighter (a healthy nucleus) or darker (a degenerated disc, the endplates)."""
    peak = float(np.percentile(departure, 99))
    if peak <= 0:
        return []
    found = []
    local = maximum_filter(departure, size=int(round(10.0 / px)) | 1)
    for row in np.flatnonzero((departure == local) & (departure > 0.35 * peak)):
        if 3.0 / px <= row <= len(departure) - 3.0 / px:
            found.append(
                Disc(plateau_centre(departure, int(row)), float(np.clip(departure[row] / peak, 0, 1)))
            )
    return found


def plateau_centre(signal: np.ndarray, row: int) -> float:
    """The middle of the run around a peak that stays above half its height over the bodies' level:
    a dark disc departs about as much all across its height, so the peak may sit anywhere on it."""
    half = (signal[row] + float(np.percentile(signal, 40))) / 2
    start, stop = row, row
    while start > 0 and signal[start - 1] > half:
        start -= 1
    while stop < len(signal) - 1 and signal[stop + 1] > half:
        stop += 1
    weights = signal[start : stop + 1] - half
    return float(np.sum(np.arange(start, stop + 1) * weights) / max(weights.sum(), 1e-9))


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D boolean array, stop exclusive."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def dip_discs(signal: np.ndarray, px: float) -> list[Disc]:
    """Discs as runs where `signal` (discs high) rises above halfway between bodies and discs."""
    body, disc = float(np.percentile(signal, 40)), float(np.percentile(signal, 99))
    if disc - body <= 1e-6:
        return []
    threshold = (body + disc) / 2
    found = []
    for start, stop in true_runs(signal > threshold):
        height = (stop - start) * px
        if start == 0 or stop == len(signal):
            continue  # cut by the image's edge: its centre is unknown
        if not DISC_HEIGHT_RANGE_MM[0] <= height <= DISC_HEIGHT_RANGE_MM[1]:
            continue
        weights = signal[start:stop] - threshold
        row = float(np.sum(np.arange(start, stop) * weights) / max(weights.sum(), 1e-9))
        strength = float(np.clip((signal[start:stop].max() - threshold) / (disc - body) * 2, 0, 1))
        found.append(Disc(row, strength))
    return found


def typical_step(rows: list[float] | np.ndarray, px: float) -> float | None:
    """The disc-to-disc spacing (pixels): the median of the steps no longer than one and a half of
    the shortest plausible one (a missed disc doubles a step; a median over all of them would not
    see it)."""
    steps = np.diff(np.sort(np.asarray(rows, float)))
    steps = steps[steps * px >= SPACING_RANGE_MM[0]]
    if not len(steps):
        return None
    step = float(np.median(steps[steps <= 1.5 * steps.min()]))
    return step if step * px <= SPACING_RANGE_MM[1] else None


def refill(discs: list[Disc], signal: np.ndarray, px: float) -> list[Disc]:
    """Look again, with a lower bar, where the spacing of the discs found says one is missing: in gaps
    of two spacings or more, and one spacing beyond either end while that is inside the image (a
    weak first disc would otherwise shift every name below it)."""
    if len(discs) < 2:
        return discs
    rows = sorted(d.row for d in discs)
    step = typical_step(rows, px)
    if step is None:
        return discs
    body = float(np.percentile(signal, 40))
    scale = float(np.percentile(signal, 99)) - body
    predicted = []
    for a, b in zip(rows, rows[1:], strict=False):
        parts = int(round((b - a) / step))
        predicted += [a + (b - a) * j / parts for j in range(1, parts)]
    margin = 4.0 / px
    row = rows[0] - step
    while row >= margin:
        predicted.append(row)
        row -= step
    row = rows[-1] + step
    while row <= len(signal) - 1 - margin:
        predicted.append(row)
        row += step
    found = list(discs)
    for row in predicted:
        lo, hi = int(max(row - 0.3 * step, 1)), int(min(row + 0.3 * step, len(signal) - 2))
        if hi <= lo:
            continue
        k = lo + int(np.argmax(signal[lo : hi + 1]))
        is_peak = signal[k] >= signal[k - 1] and signal[k] >= signal[k + 1]
        prominence = signal[k] - body
        if (
            is_peak
            and scale > 0
            and prominence > 0.2 * scale
            and all(abs(k - d.row) > 0.5 * step for d in found)
        ):
            found.append(Disc(plateau_centre(signal, k), float(np.clip(prominence / scale, 0, 1))))
    return sorted(found, key=lambda d: d.row)


def label_discs(discs: list[Disc], px: float) -> dict[str, tuple[Disc, float]]:
    """Level name -> (disc, confidence), counting from the first disc; a gap where a disc is missing
    skips that level's name instead of shifting the names below it, and a find closer than half a
    spacing to the last accepted disc is dropped (an endplate, a spur)."""
    if not discs:
        return {}
    step = typical_step([d.row for d in discs], px)
    typical = 18.0 if step is None else step * px
    labelled: dict[str, tuple[Disc, float]] = {}
    index, last = 0, None
    for disc in sorted(discs, key=lambda d: (d.row, -d.strength)):
        if last is not None:
            ratio = (disc.row - last.row) * px / typical
            if ratio < 0.5:
                continue
            index += max(int(round(ratio)), 1)
            regular = float(np.clip(1 - 2.5 * abs(ratio - round(ratio)), 0, 1))
        else:
            regular = 1.0
        if index >= len(LEVELS):
            break
        last = disc
        confidence = round(disc.strength * (0.5 + 0.5 * regular), 3)
        if confidence >= MIN_CONFIDENCE:
            labelled[LEVELS[index]] = (disc, confidence)
    return labelled
