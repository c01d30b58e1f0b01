"""What narrows the canal, level by level, and the Kang grade that results from it.

A patient gets a degenerative burden (growing with age); each level gets a share of it weighted
by how often that level is affected (C5/6 most, then C4/5, C6/7 ...). The burden becomes
millimetres of disc bulge, osteophyte and ligamentum flavum buckling; some patients have OPLL
over adjacent levels or a developmentally narrow canal. The grade is then read off the geometry
the way a radiologist reads the MRI: how much of the CSF around the cord is gone, whether the
cord is deformed, and (grade 3) whether the cord shows T2 signal change, which becomes likelier
the harder the cord is compressed but is itself invisible on CT.
"""

from dataclasses import dataclass, field

import numpy as np

from ml import LEVELS

# Relative weight of degeneration per level, C2/3 .. C7/T1.
LEVEL_WEIGHTS = np.array([0.25, 0.55, 0.95, 1.0, 0.62, 0.25])
SIGNAL_CHANGE_MIDPOINT = 0.42  # cord compression (1 - cord AP / normal) where P(T2 signal) = 0.5
SIGNAL_CHANGE_WIDTH = 0.07


@dataclass
class LevelPathology:
    bulge_mm: float = 0.0
    osteophyte_mm: float = 0.0
    lf_extra_mm: float = 0.0
    opll_mm: float = 0.0
    degeneration: float = 0.0  # 0..1, darkens and flattens the disc
    signal_draw: float = 1.0  # uniform draw deciding T2 cord signal change at a given compression
    cord_signal_change: bool = False
    mechanisms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LevelTruth:
    grade: int
    severity: float  # continuous 0..4, floor() is the grade; what simulated readers perceive
    csf_reserve_ratio: float  # remaining CSF AP around the cord over the patient's normal
    cord_compression: float  # 1 - cord AP at the level / normal cord AP
    primary_mechanism: str


def sample_level_pathology(rng: np.random.Generator, *, age: float) -> tuple[list[LevelPathology], bool]:
    """Per-level pathology for one patient, and whether the canal is developmentally narrow."""
    burden = rng.gamma(shape=2.2, scale=0.95) * (0.45 + (age - 30) / 40)
    narrow = bool(rng.random() < 0.14)
    levels = []
    for level in range(len(LEVELS)):
        severity = burden * LEVEL_WEIGHTS[level] * rng.lognormal(0.0, 0.45)
        disc_share = rng.uniform(0.3, 1.0)
        path = LevelPathology(
            bulge_mm=_saturate(severity * 2.6 * disc_share, cap=8.0),
            osteophyte_mm=_saturate(severity * 1.6 * disc_share * rng.uniform(0.2, 1.0), cap=4.5),
            lf_extra_mm=_saturate(severity * 2.2 * (1.15 - disc_share) * rng.uniform(0.5, 1.0), cap=4.0),
            degeneration=float(np.clip(severity / 3.0, 0, 1)),
            signal_draw=float(rng.random()),
        )
        levels.append(path)
    if rng.random() < 0.07:  # OPLL over 1-3 adjacent levels around C4-C6
        length = int(rng.integers(1, 4))
        start = int(np.clip(rng.integers(1, 5), 0, len(LEVELS) - length))
        thickness = float(rng.uniform(2.5, 7.5))
        for level in range(start, start + length):
            levels[level].opll_mm = thickness * rng.uniform(0.75, 1.0)
    return levels, narrow


def _saturate(mm: float, *, cap: float) -> float:
    """Millimetres of encroachment grow with severity but never past what anatomy allows."""
    return float(cap * np.tanh(mm / cap))


def grade_from_geometry(
    *, free_min_mm: float, dura_nominal_mm: float, cord_ap_mm: float, signal_draw: float
) -> tuple[int, float, float, float, bool]:
    """Kang grade from the free AP space at the level: (grade, severity, reserve, compression, signal)."""
    reserve_normal = max(dura_nominal_mm - cord_ap_mm, 0.5)
    reserve = (min(dura_nominal_mm, free_min_mm) - cord_ap_mm) / reserve_normal
    if free_min_mm >= cord_ap_mm:
        if reserve > 0.5:
            return 0, float(np.clip((1 - reserve) / 0.5, 0, 0.999)), reserve, 0.0, False
        return 1, 1 + float(np.clip((0.5 - reserve) / 0.5, 0, 0.999)), reserve, 0.0, False
    compression = 1 - max(free_min_mm, 0.3 * cord_ap_mm) / cord_ap_mm
    p_signal = 1 / (1 + np.exp(-(compression - SIGNAL_CHANGE_MIDPOINT) / SIGNAL_CHANGE_WIDTH))
    if signal_draw < p_signal:
        return 3, 3.2 + 0.6 * float(np.clip(compression / 0.6, 0, 1)), reserve, compression, True
    return 2, 2 + float(np.clip(compression / 0.4, 0, 0.999)), reserve, compression, False


def primary_mechanism(path: LevelPathology, *, narrow: bool, grade: int) -> tuple[str, list[str]]:
    contributions = {
        "disc_osteophyte": max(path.bulge_mm, path.osteophyte_mm),
        "ligamentum_flavum": path.lf_extra_mm,
        "opll": path.opll_mm,
    }
    mechanisms = [name for name, mm in contributions.items() if mm >= 1.0]
    if narrow:
        mechanisms.append("developmental")
    if grade == 0 and not any(mm >= 2.0 for mm in contributions.values()):
        return "none", mechanisms
    name, mm = max(contributions.items(), key=lambda item: item[1])
    if narrow and mm < 2.5:
        return "developmental", mechanisms
    return name, mechanisms
