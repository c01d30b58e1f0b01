"""A parametric cervical spine (mid C2 to T1) with the canal, its contents and the neck around it.

Everything is defined in an anatomy frame (mm): x to the patient's left, y posterior, z superior,
with the canal centre of the top of the coverage at the origin. The spine follows a lordotic
centre line; each point is mapped to spine coordinates (s along the spine, downwards; u, the
distance from the canal centre line, posterior positive; x) and looked up in 1D profiles along s.
"""

from dataclasses import dataclass, field

import numpy as np

from ml import LEVELS
from ml.synthetic.pathology import (
    LevelPathology,
    LevelTruth,
    grade_from_geometry,
    primary_mechanism,
    sample_level_pathology,
)
from ml.synthetic.profiles import PROFILE_NAMES, LazyProfiles

# Tissue labels; the CT and MRI renderers map them to Hounsfield units and T2 signal.
AIR, FAT, MUSCLE, SOFT, CORTICAL, CANCELLOUS, NUCLEUS, ANNULUS = range(8)
LIGAMENT, EPIDURAL_FAT, CSF, CORD, CORD_MYELOPATHY, OSSIFIED, AIRWAY_WALL = range(8, 15)
N_TISSUES = 15

VERTEBRAE = ("C2", "C3", "C4", "C5", "C6", "C7", "T1")
PROFILE_STEP_MM = 0.1
# Bony canal AP (mm) at mid-body of C2..T1 in a normal adult, and spinous process length (mm).
NORMAL_CANAL_AP = np.array([18.0, 17.0, 17.0, 17.0, 16.5, 15.5, 15.0])
SPINOUS_LENGTH = np.array([26.0, 17.0, 16.0, 18.0, 22.0, 30.0, 30.0])
C2_SHOWN_MM = 12.0  # the lower part of C2's body inside the coverage
T1_SHOWN_MM = 12.0


@dataclass
class PatientAnatomy:
    """Sampled geometry of one patient, and the per-level pathology acting on it."""

    body_ap: np.ndarray  # per vertebra C2..T1, mm
    body_width: np.ndarray
    body_height: np.ndarray
    disc_height: np.ndarray  # per level C2/3..C7/T1
    canal_ap: np.ndarray  # developmental bony canal AP per vertebra
    canal_width: np.ndarray
    cord_ap: float
    cord_width: float
    lordosis_mm: float
    neck_rx: float
    neck_ry: float
    pathology: list[LevelPathology]
    narrow_canal: bool = False
    age: float = 55.0
    lf_normal_mm: float = 1.5
    epidural_mm: float = 0.8
    profiles: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    level_s: np.ndarray = field(default=None, repr=False)  # disc centre s per level
    truths: list[LevelTruth] = field(default_factory=list)
    length: float = 0.0

    # ---- construction of the profiles along the spine -------------------------------------
    def build(self) -> "PatientAnatomy":
        # (kind, index, s_start, s_end). The coverage runs from mid C2 (s = 0) to mid T1
        # (s = length); C2 above it and the T1/T2 disc and T2 below exist for the MRI's larger view.
        bounds = []
        s = 0.0
        for v in range(len(VERTEBRAE)):
            height = float(self.body_height[v])
            if v == 0:
                bounds.append(("body", v, -40.0, C2_SHOWN_MM))
                s = C2_SHOWN_MM
            else:
                bounds.append(("body", v, s, s + height))
                s += height
            if v < len(LEVELS):
                bounds.append(("disc", v, s, s + self.disc_height[v]))
                s += self.disc_height[v]
        self.length = bounds[-1][2] + T1_SHOWN_MM
        bounds.append(("disc", len(LEVELS), s, s + 4.5))
        bounds.append(("body", len(VERTEBRAE) - 1, s + 4.5, s + 60.0))
        s = self.length
        self.level_s = np.array([(b[2] + b[3]) / 2 for b in bounds if b[0] == "disc" and b[1] < len(LEVELS)])

        grid = np.arange(-40.0, bounds[-1][3], PROFILE_STEP_MM)
        n = len(grid)
        prof = {name: np.zeros(n, np.float32) for name in PROFILE_NAMES}
        vertebra = np.zeros(n, np.int16)
        for kind, index, s0, s1 in bounds:
            inside = (grid >= s0) & (grid < s1)
            if kind == "body":
                vertebra[inside] = index
                prof["is_body"][inside] = 1
                prof["endplate_dist"][inside] = np.minimum(grid[inside] - s0, s1 - grid[inside])
            else:
                vertebra[inside] = index  # the disc belongs to the vertebra above for dimensions
                prof["is_disc"][inside] = 1
        # Dimensions interpolate smoothly between vertebra centres (C2's and T1's inside the coverage).
        centres = np.array([(b[2] + b[3]) / 2 for b in bounds if b[0] == "body"][: len(VERTEBRAE)])
        centres[0] = C2_SHOWN_MM / 2
        centres[-1] = self.length - T1_SHOWN_MM / 2
        for name, values in (
            ("body_ap", self.body_ap),
            ("body_width", self.body_width),
            ("canal_ap", self.canal_ap),
            ("canal_width", self.canal_width),
            ("spinous_length", SPINOUS_LENGTH),
        ):
            prof[name] = np.interp(grid, centres, values).astype(np.float32)
        # Posterior arch: the body's range shifted caudally, shorter; the gap is the interlaminar space.
        for kind, index, s0, s1 in bounds:
            if kind == "body":
                arch = (grid >= s0 + 1.0) & (grid < s1 + 1.5)
                prof["is_arch"][arch] = 1
                prof["arch_centre"][arch] = (s0 + s1) / 2 + 1.25
                prof["arch_height"][arch] = s1 - s0 + 0.5
                shown_centre = C2_SHOWN_MM / 2 if index == 0 else (s0 + s1) / 2
                prof["spinous_centre"][arch] = shown_centre + 1.25
            else:
                # Facet joint: a thin gap in the lateral masses just behind the disc.
                joint = np.abs(grid - (s0 + s1) / 2 - 1.0) < 0.7
                prof["facet_gap"][joint] = 1

        lf = np.full(n, self.lf_normal_mm, np.float32)
        anterior = np.zeros(n, np.float32)
        for level, (centre, path) in enumerate(zip(self.level_s, self.pathology, strict=True)):
            half = self.disc_height[level] / 2
            d = grid - centre
            # Disc bulge: a dome over the disc, tapering past the endplates.
            bulge = path.bulge_mm * np.clip(1 - (np.abs(d) / (half + 2.5)) ** 2, 0, None)
            prof["bulge"] = np.maximum(prof["bulge"], bulge)
            # Osteophytes: bony lips at the posterior endplate corners.
            corner = np.minimum(np.abs(d - half), np.abs(d + half))
            spur = path.osteophyte_mm * np.clip(1 - (corner / 2.0) ** 2, 0, None)
            prof["osteophyte"] = np.maximum(prof["osteophyte"], spur)
            # Ligamentum flavum buckles into the canal at the interlaminar level.
            buckle = path.lf_extra_mm * np.clip(1 - ((d - 1.0) / (half + 3.5)) ** 2, 0, None)
            lf = np.maximum(lf, self.lf_normal_mm + buckle)
            prof["disc_degeneration"][np.abs(d) <= half] = path.degeneration
        for path_start, path_end, thickness in _opll_segments(self.pathology, self.level_s, bounds):
            span = (grid >= path_start) & (grid <= path_end)
            edge = np.minimum(grid - path_start, path_end - grid)
            plaque = thickness * np.clip(edge / 3.0, 0, 1)
            prof["opll"][span] = np.maximum(prof["opll"][span], plaque[span])
        prof["lf"] = lf
        anterior = np.maximum.reduce([prof["bulge"], prof["osteophyte"], prof["opll"]])
        prof["anterior"] = anterior

        # The dural sac and the cord fit into the free space between the encroachments.
        free = prof["canal_ap"] - anterior - lf - self.epidural_mm
        dura_nominal = prof["canal_ap"] - self.lf_normal_mm - 2 * self.epidural_mm
        prof["dura_ap"] = np.clip(np.minimum(dura_nominal, free), 1.0, None)
        prof["cord_ap"] = np.clip(np.minimum(self.cord_ap, free), self.cord_ap * 0.3, None)
        # A flattened cord widens a little.
        prof["cord_width"] = self.cord_width * (1 + 0.25 * (1 - prof["cord_ap"] / self.cord_ap))
        anterior_wall = -prof["canal_ap"] / 2 + anterior
        posterior_wall = prof["canal_ap"] / 2 - lf
        prof["sac_centre"] = (anterior_wall + posterior_wall) / 2
        self.truths = []
        for level, (centre, path) in enumerate(zip(self.level_s, self.pathology, strict=True)):
            window = np.abs(grid - centre) <= self.disc_height[level] / 2 + 1.5
            grade, severity, reserve, compression, signal = grade_from_geometry(
                free_min_mm=float(free[window].min()),
                dura_nominal_mm=float(dura_nominal[window].max()),
                cord_ap_mm=self.cord_ap,
                signal_draw=path.signal_draw,
            )
            path.cord_signal_change = signal
            mechanism, path.mechanisms = primary_mechanism(path, narrow=self.narrow_canal, grade=grade)
            self.truths.append(
                LevelTruth(
                    grade=grade,
                    severity=round(severity, 4),
                    csf_reserve_ratio=round(float(reserve), 4),
                    cord_compression=round(float(compression), 4),
                    primary_mechanism=mechanism,
                )
            )
            if signal:
                span = np.abs(grid - centre) <= self.disc_height[level] / 2 + 3.0
                prof["myelopathy"][span] = 1
        self.profiles = {name: values.astype(np.float32) for name, values in prof.items()}
        self.profiles["vertebra"] = vertebra
        self._grid0 = grid[0]
        self._n = n
        centre_y, centre_dy = self.centre_line(grid)
        self._centre_y, self._centre_dy = centre_y.astype(np.float32), centre_dy.astype(np.float32)
        return self

    # ---- geometry -------------------------------------------------------------------------
    def centre_line(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canal centre (y) and its slope dy/ds at spine position s: lordosis, apex anterior."""
        phase = np.pi * s / self.length
        y = -self.lordosis_mm * np.sin(phase)
        dy = -self.lordosis_mm * np.pi / self.length * np.cos(phase)
        return y, dy

    def spine_point(self, s: float, u: float = 0.0, x: float = 0.0) -> np.ndarray:
        """Anatomy-frame point (x, y, z) at spine position s, AP offset u from the canal centre."""
        y, dy = self.centre_line(np.asarray(s, float))
        norm = np.sqrt(1 + dy**2)
        return np.array([x, y + u / norm, -s + u * dy / norm], float)

    def spine_axis(self, s: float) -> np.ndarray:
        """Unit vector along the spine (downwards) at s, in the anatomy frame."""
        _, dy = self.centre_line(np.asarray(s, float))
        axis = np.array([0.0, dy, -1.0])
        return axis / np.linalg.norm(axis)

    def to_spine(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, u, s) of anatomy-frame points: one Newton step of the projection on the centre line."""
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        s0 = -z
        # The centre line is looked up in the profiles' table instead of evaluating sines.
        i0 = self._lookup(s0)
        yc, dy = self._centre_y[i0], self._centre_dy[i0]
        s = s0 + (y - yc) * dy / (1 + dy * dy)
        i1 = self._lookup(s)
        yc, dy = self._centre_y[i1], self._centre_dy[i1]
        u = ((y - yc) + (z + s) * dy) / np.sqrt(1 + dy * dy)
        return x, u, s

    def profile_at(self, name: str, s: float) -> float:
        """A profile's value (e.g. "canal_ap") at spine position s."""
        return float(self.profiles[name][self._lookup(np.array([s]))[0]])

    def _lookup(self, s: np.ndarray) -> np.ndarray:
        return np.clip(np.rint((s - self._grid0) / PROFILE_STEP_MM).astype(np.int64), 0, self._n - 1)

    # ---- tissue labels --------------------------------------------------------------------
    def labels(self, points: np.ndarray, *, return_index: bool = False):
        """Tissue label of each anatomy-frame point (array of shape (..., 3)).

        With return_index, also the index into the profiles at each point's spine position.
        """
        shape = points.shape[:-1]
        x, u, s = self.to_spine(points.reshape(-1, 3).astype(np.float32, copy=False))
        i = self._lookup(s)
        label = np.full(x.shape, AIR, np.uint8)
        self._label_neck(label, x, u, i)
        # The spine and the canal are small: evaluate them only where they can be.
        near = np.flatnonzero((np.abs(x) < 32) & (u > -34) & (u < 56))
        self._label_spine(label, near, x[near], u[near], s[near], i[near])
        label = label.reshape(shape)
        return (label, i.reshape(shape)) if return_index else label

    def _label_neck(self, label, x, u, i) -> None:
        """Skin, subcutaneous fat, muscle; airway, oesophagus and vessels in front of the spine."""
        p = LazyProfiles(self.profiles, i)
        neck_u = u + 18.0
        label[(x / self.neck_rx) ** 2 + (neck_u / self.neck_ry) ** 2 <= 1] = FAT
        label[(x / (self.neck_rx - 6)) ** 2 + (neck_u / (self.neck_ry - 6)) ** 2 <= 1] = MUSCLE
        label[((np.abs(x) - 15) / 2.5) ** 2 + ((u - 14) / 16) ** 2 <= 1] = FAT
        body_front = -p["canal_ap"] / 2 - p["body_ap"]
        airway_r2 = x * x + (u - (body_front - 22)) ** 2
        label[airway_r2 <= 9.5**2] = AIRWAY_WALL
        label[airway_r2 <= 7.5**2] = AIR
        label[((x + 3) / 8) ** 2 + ((u - (body_front - 6)) / 4) ** 2 <= 1] = SOFT
        for side in (-1, 1):
            label[((x - side * 21) / 4) ** 2 + ((u - (body_front - 4)) / 4) ** 2 <= 1] = SOFT
            label[((x - side * 28) / 6) ** 2 + ((u - (body_front - 2)) / 5) ** 2 <= 1] = SOFT

    def _label_spine(self, label, where, x, u, s, i) -> None:
        p = LazyProfiles(self.profiles, i)
        out = label[where]
        a_half, w_half = p["canal_ap"] / 2, p["canal_width"] / 2

        # Vertebral bodies (cortical shell and endplates around cancellous bone) and discs.
        body_u = u - (-a_half - p["body_ap"] / 2)
        bx, by = (x / (p["body_width"] / 2)) ** 2, (body_u / (p["body_ap"] / 2)) ** 2
        radius = bx * bx + by * by  # a rounded rectangle (superellipse of order 4)
        in_body = (radius <= 1) & (p["is_body"] > 0)
        shell = (radius > (1 - 1.3 / (p["body_ap"] / 2)) ** 4) | (p["endplate_dist"] < 0.9)
        out[in_body] = CANCELLOUS
        out[in_body & shell] = CORTICAL
        in_disc = (radius <= 1) & (p["is_disc"] > 0)
        out[in_disc] = ANNULUS
        out[in_disc & (radius <= 0.2)] = NUCLEUS

        # Lateral masses with facet joints; transverse processes around the vertebral artery.
        for side in (-1, 1):
            lm = ((x - side * (w_half + 6.0)) / 5.5) ** 2 + ((u - 1.5) / 6.5) ** 2
            out[lm <= 1] = CANCELLOUS
            out[(lm <= 1) & (lm > 0.6)] = CORTICAL
            out[(lm <= 1) & (p["facet_gap"] > 0)] = SOFT
            tp2 = (x - side * (w_half + 9.5)) ** 2 + (u + a_half + 3.0) ** 2
            transverse = (tp2 <= 25.0) & (p["is_body"] > 0)
            out[transverse] = CORTICAL
            out[transverse & (tp2 <= 2.6**2)] = SOFT

        # Bony canal outline: flat in front (against the body), rounded behind.
        ur = (u / a_half) ** 2
        in_canal = (x / w_half) ** 2 + np.where(u < 0, ur * ur, ur) <= 1

        # Neural arch (pedicles and laminae) as a ring behind and beside the canal; spinous process.
        arch_r = (x / (w_half + 3.5)) ** 2 + (u / (a_half + 3.5)) ** 2
        arch = (arch_r <= 1) & ~in_canal & (u > -a_half) & (p["is_arch"] > 0)
        arch &= np.abs(s - p["arch_centre"]) <= p["arch_height"] / 2
        out[arch] = CORTICAL
        behind = u - a_half
        slant = np.abs(s - (p["spinous_centre"] + 0.35 * behind))
        spinous = (behind > 0) & (behind < 2.5 + p["spinous_length"]) & (np.abs(x) <= 2.5 + 0.05 * behind)
        spinous &= slant <= 3.5
        out[spinous] = CORTICAL
        out[spinous & (np.abs(x) < 1.2) & (slant < 2.0)] = CANCELLOUS

        canal = np.flatnonzero(in_canal)
        out[canal] = self._canal_contents(x[canal], u[canal], p.subset(canal))
        label[where] = out

    def _canal_contents(self, x, u, p) -> np.ndarray:
        """Epidural fat, ligamentum flavum, anterior encroachments, the dural sac and the cord."""
        a_half, w_half = p["canal_ap"] / 2, p["canal_width"] / 2
        out = np.full(x.shape, EPIDURAL_FAT, np.uint8)
        ligament = (u > 0) & ((x / w_half) ** 2 + (u / np.maximum(a_half - p["lf"], 0.5)) ** 2 > 1)
        out[ligament] = LIGAMENT
        dome = np.clip(1 - (x / 7.5) ** 2, 0, None)
        depth = u + a_half  # distance behind the anterior canal wall
        bulge = depth < p["bulge"] * dome
        out[bulge] = ANNULUS
        bony = (depth < p["osteophyte"] * dome) | (depth < p["opll"] * np.clip(1 - (x / 6.0) ** 2, 0, None))
        out[bony] = OSSIFIED
        free = ~(bulge | bony | ligament)
        sac_u = u - p["sac_centre"]
        dura = (x / (w_half - 1.8)) ** 2 + (sac_u / (p["dura_ap"] / 2)) ** 2 <= 1
        out[free & dura] = CSF
        cord = free & ((x / (p["cord_width"] / 2)) ** 2 + (sac_u / (p["cord_ap"] / 2)) ** 2 <= 1)
        out[cord] = np.where(p["myelopathy"][cord] > 0, CORD_MYELOPATHY, CORD)
        return out

    # ---- CT-visible measurements at each level --------------------------------------------
    def level_measures(self, level: int) -> dict[str, float]:
        i = self._lookup(np.array([self.level_s[level]]))[0]
        p = {name: float(values[i]) for name, values in self.profiles.items()}
        vertebra_above = level  # C2/3 -> C2 ... C7/T1 -> C7
        # Torg-Pavlov: bony canal AP over body AP at mid-body of the vertebra below the disc.
        below = level + 1
        canal_at_disc = p["canal_ap"] - p["anterior"] - p["lf"]
        return {
            "canal_ap_mm": round(canal_at_disc, 2),
            "bony_canal_ap_mm": round(float(self.canal_ap[below]), 2),
            "body_ap_mm": round(float(self.body_ap[below]), 2),
            "torg_pavlov": round(float(self.canal_ap[below] / self.body_ap[below]), 3),
            "occupying_ratio": round(p["anterior"] / p["canal_ap"], 3),
            "dural_sac_ap_mm": round(p["dura_ap"], 2),
            "cord_ap_mm": round(p["cord_ap"], 2),
            "vertebra_above": VERTEBRAE[vertebra_above],
        }


def _opll_segments(pathology, level_s, bounds):
    """Continuous OPLL plaques: runs of adjacent levels with OPLL, spanning the bodies between."""
    run: list[int] = []
    segments = []
    for level, path in enumerate([*pathology, None]):
        if path is not None and path.opll_mm > 0:
            run.append(level)
            continue
        if run:
            thickness = max(pathology[k].opll_mm for k in run)
            start = level_s[run[0]] - 8.0
            end = level_s[run[-1]] + 8.0
            segments.append((start, end, thickness))
            run = []
    return segments


def sample_anatomy(rng: np.random.Generator) -> PatientAnatomy:
    """A random adult cervical spine with its degenerative pathology, built and graded."""
    age = float(rng.uniform(30, 82))
    size = rng.normal(1.0, 0.04)
    pathology, narrow = sample_level_pathology(rng, age=age)
    canal_ap = NORMAL_CANAL_AP * rng.normal(1.0, 0.045) + rng.normal(0, 0.35, len(VERTEBRAE))
    if narrow:
        canal_ap -= rng.uniform(2.5, 4.5)
    disc_height = rng.uniform(4.2, 6.0, len(LEVELS))
    disc_height[-1] = rng.uniform(3.8, 4.8)
    disc_height -= np.array([p.degeneration for p in pathology]) * 1.2
    return PatientAnatomy(
        body_ap=size * (np.array([15.5, 15.5, 16.0, 16.5, 17.0, 17.5, 17.5]) + rng.normal(0, 0.5, 7)),
        body_width=size * (np.array([21.0, 22.0, 23.0, 23.5, 24.5, 25.0, 26.0]) + rng.normal(0, 0.5, 7)),
        body_height=rng.uniform(13.0, 15.0, len(VERTEBRAE)),
        disc_height=disc_height,
        canal_ap=canal_ap,
        canal_width=size * (rng.normal(25.0, 0.9) + np.array([0.5, 0, 0, 0, 0, -0.5, -1.0])),
        cord_ap=float(rng.uniform(7.4, 8.8)),
        cord_width=float(rng.uniform(11.0, 14.0)),
        lordosis_mm=float(rng.normal(7.0, 4.0)),
        neck_rx=float(rng.uniform(52, 64)),
        neck_ry=float(rng.uniform(50, 60)),
        pathology=pathology,
        narrow_canal=narrow,
        age=age,
    ).build()
