"""Turn the anatomy into CT (Hounsfield units) and T2 MRI images on each scanner's own grid.

Both scanners see the same patient positioned differently: a point p of a scanner's patient
frame maps to the anatomy frame by R^T (p - offset). Partial volume comes from averaging
sub-slices across the slice thickness and from the reconstruction kernel's blur.
"""

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ml.synthetic import anatomy as A
from ml.synthetic.scanners import CTAcquisition, MRAcquisition

SLICE_CHUNK = 6  # slices labelled per call, to bound memory


def rotation(degrees: tuple[float, float, float]) -> np.ndarray:
    rx, ry, rz = np.deg2rad(degrees)
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mz @ my @ mx


@dataclass(frozen=True)
class Placement:
    """Where the anatomy sits in a scanner's patient frame (LPS, mm)."""

    rotation: np.ndarray
    offset: np.ndarray

    @classmethod
    def of(cls, acquisition) -> "Placement":
        return cls(rotation(acquisition.rotation_deg), np.asarray(acquisition.offset_mm, float))

    def to_patient(self, anatomy_points: np.ndarray) -> np.ndarray:
        return anatomy_points @ self.rotation.T + self.offset

    def to_anatomy(self, patient_points: np.ndarray) -> np.ndarray:
        offset, rot = self.offset.astype(np.float32), self.rotation.astype(np.float32)
        return (patient_points.astype(np.float32, copy=False) - offset) @ rot


def ct_tissue_hu(rng: np.random.Generator, *, age: float) -> np.ndarray:
    """Hounsfield units per tissue label for one patient (bone density falls with age)."""
    bone_loss = np.clip((age - 40) / 80, 0, 0.4)
    hu = np.zeros(A.N_TISSUES, np.float32)
    hu[A.AIR] = -1000
    hu[A.FAT] = rng.uniform(-100, -75)
    hu[A.MUSCLE] = rng.uniform(40, 60)
    hu[A.SOFT] = rng.uniform(30, 45)
    hu[A.CORTICAL] = rng.uniform(750, 1100) * (1 - bone_loss)
    hu[A.CANCELLOUS] = rng.uniform(300, 390) * (1 - bone_loss)
    hu[A.NUCLEUS] = rng.uniform(62, 75)
    hu[A.ANNULUS] = rng.uniform(75, 90)
    hu[A.LIGAMENT] = rng.uniform(70, 90)
    hu[A.EPIDURAL_FAT] = rng.uniform(-80, -50)
    hu[A.CSF] = rng.uniform(2, 14)
    hu[A.CORD] = hu[A.CORD_MYELOPATHY] = rng.uniform(22, 30)
    hu[A.OSSIFIED] = rng.uniform(650, 900) * (1 - bone_loss / 2)
    hu[A.AIRWAY_WALL] = rng.uniform(90, 150)
    return hu


def mr_tissue_t2(rng: np.random.Generator) -> np.ndarray:
    """T2-weighted fast spin echo signal per tissue (CSF = 1000)."""
    t2 = np.zeros(A.N_TISSUES, np.float32)
    t2[A.AIR] = 0
    t2[A.FAT] = rng.uniform(650, 800)
    t2[A.MUSCLE] = rng.uniform(150, 210)
    t2[A.SOFT] = rng.uniform(280, 350)
    t2[A.CORTICAL] = 25
    t2[A.CANCELLOUS] = rng.uniform(380, 470)
    t2[A.NUCLEUS] = rng.uniform(800, 900)
    t2[A.ANNULUS] = rng.uniform(100, 150)
    t2[A.LIGAMENT] = rng.uniform(60, 100)
    t2[A.EPIDURAL_FAT] = rng.uniform(600, 700)
    t2[A.CSF] = 1000
    t2[A.CORD] = rng.uniform(380, 450)
    t2[A.CORD_MYELOPATHY] = rng.uniform(750, 850)
    t2[A.OSSIFIED] = 35
    t2[A.AIRWAY_WALL] = rng.uniform(150, 250)
    return t2


@dataclass
class CTGrid:
    x0: float
    y0: float
    z_positions: np.ndarray  # superior to inferior
    spacing: float
    matrix: int


def ct_grid(anatomy: A.PatientAnatomy, ct: CTAcquisition, placement: Placement) -> CTGrid:
    top = placement.to_patient(anatomy.spine_point(-4.0))
    bottom = placement.to_patient(anatomy.spine_point(anatomy.length + 4.0))
    z_positions = np.arange(top[2], bottom[2], -ct.slice_thickness_mm)
    centre = placement.to_patient(anatomy.spine_point(anatomy.length / 2, u=-12.0))
    half = ct.matrix * ct.pixel_spacing_mm / 2
    return CTGrid(
        x0=float(centre[0] - half + ct.pixel_spacing_mm / 2),
        y0=float(centre[1] - half + ct.pixel_spacing_mm / 2),
        z_positions=np.round(z_positions, 3),
        spacing=ct.pixel_spacing_mm,
        matrix=ct.matrix,
    )


def render_ct(
    anatomy: A.PatientAnatomy, ct: CTAcquisition, placement: Placement, grid: CTGrid, rng: np.random.Generator
) -> np.ndarray:
    """The CT volume in HU, shape (slices, rows=y, cols=x), as int16."""
    hu = ct_tissue_hu(rng, age=anatomy.age)
    n = grid.matrix
    xs = grid.x0 + np.arange(n) * grid.spacing
    ys = grid.y0 + np.arange(n) * grid.spacing
    sub = 2
    offsets = (np.arange(sub) - (sub - 1) / 2) * ct.slice_thickness_mm / sub
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    volume = np.empty((len(grid.z_positions), n, n), np.float32)
    for start in range(0, len(grid.z_positions), SLICE_CHUNK):
        zs = grid.z_positions[start : start + SLICE_CHUNK]
        sub_z = (zs[:, None] + offsets[None, :]).reshape(-1)
        points = np.empty((len(sub_z), n, n, 3), np.float32)
        points[..., 0] = xx
        points[..., 1] = yy
        points[..., 2] = sub_z[:, None, None]
        labels = anatomy.labels(placement.to_anatomy(points))
        volume[start : start + len(zs)] = hu[labels].reshape(len(zs), sub, n, n).mean(axis=1)
    sigma = ct.kernel_sigma_mm / grid.spacing
    volume = gaussian_filter(volume, sigma=(0, sigma, sigma))
    noise = gaussian_filter(rng.standard_normal(volume.shape).astype(np.float32), sigma=(0, 0.6, 0.6))
    noise *= ct.noise_hu / max(float(noise.std()), 1e-6)
    volume += noise
    volume[volume < -1024] = -1024
    return np.clip(np.rint(volume), -1024, 3071).astype(np.int16)


@dataclass(frozen=True)
class MRPlane:
    """One MR image: its top-left pixel centre and row/column directions in the MR patient frame."""

    position: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    normal: np.ndarray
    pixel_mm: float
    matrix: int
    thickness_mm: float


def mr_sagittal_planes(anatomy: A.PatientAnatomy, mr: MRAcquisition, placement: Placement) -> list[MRPlane]:
    centre = placement.to_patient(anatomy.spine_point(anatomy.length / 2, u=-5.0))
    row_dir, col_dir = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])
    half = mr.sagittal_matrix * mr.sagittal_pixel_mm / 2
    gap = mr.sagittal_thickness_mm + 0.5
    planes = []
    for k in range(mr.sagittal_slices):
        x = centre[0] + (k - (mr.sagittal_slices - 1) / 2) * gap
        origin = np.array([x, centre[1], centre[2]]) - (half - mr.sagittal_pixel_mm / 2) * (row_dir + col_dir)
        planes.append(
            MRPlane(
                origin,
                row_dir,
                col_dir,
                np.array([1.0, 0, 0]),
                mr.sagittal_pixel_mm,
                mr.sagittal_matrix,
                mr.sagittal_thickness_mm,
            )
        )
    return planes


def mr_axial_planes(anatomy: A.PatientAnatomy, mr: MRAcquisition, placement: Placement) -> list[MRPlane]:
    """One oblique axial slice through each disc, angled along the disc as technologists do."""
    planes = []
    for s in anatomy.level_s:
        centre = placement.to_patient(anatomy.spine_point(s, u=-6.0))
        normal = placement.rotation @ anatomy.spine_axis(s)
        normal = -normal  # point superiorly, like an axial stack's normal
        row_dir = np.array([1.0, 0.0, 0.0]) - normal[0] * normal
        row_dir /= np.linalg.norm(row_dir)
        col_dir = np.cross(normal, row_dir)
        half = mr.axial_matrix * mr.axial_pixel_mm / 2
        origin = centre - (half - mr.axial_pixel_mm / 2) * (row_dir + col_dir)
        planes.append(
            MRPlane(
                origin, row_dir, col_dir, normal, mr.axial_pixel_mm, mr.axial_matrix, mr.axial_thickness_mm
            )
        )
    return planes


def render_mr(
    anatomy: A.PatientAnatomy,
    mr: MRAcquisition,
    placement: Placement,
    planes: list[MRPlane],
    rng: np.random.Generator,
    t2: np.ndarray,
) -> np.ndarray:
    """T2 images for the planes, shape (planes, rows, cols), uint16 (CSF near 1000)."""
    images = []
    for plane in planes:
        n = plane.matrix
        idx = np.arange(n) * plane.pixel_mm
        rows, cols = np.meshgrid(idx, idx, indexing="ij")
        base = plane.position + cols[..., None] * plane.row_dir + rows[..., None] * plane.col_dir
        offsets = (np.arange(3) - 1) * plane.thickness_mm / 3
        signal = np.zeros((n, n), np.float32)
        for offset in offsets:
            points = placement.to_anatomy(base + offset * plane.normal)
            labels, index = anatomy.labels(points, return_index=True)
            values = t2[labels]
            degeneration = anatomy.profiles["disc_degeneration"][index]
            values = np.where(labels == A.NUCLEUS, values * (1 - 0.75 * degeneration), values)
            signal += values / len(offsets)
        signal = gaussian_filter(signal, 0.6)
        # Receive-coil sensitivity: brighter towards the posterior neck coil.
        posterior = (base[..., 1] - base[..., 1].mean()) / 120.0
        signal *= (1 + 0.35 * posterior).astype(np.float32)
        sd = mr.noise * 1000
        noisy = np.hypot(signal + rng.normal(0, sd, signal.shape), rng.normal(0, sd, signal.shape))
        images.append(np.clip(np.rint(noisy), 0, 4095).astype(np.uint16))
    return np.stack(images)
