"""Scanner profiles: the acquisition parameters a patient's CT and MRI are drawn from.

`default` is the cohort's usual scanner; `other` is a second vendor with finer pixels, thinner
slices, more noise and a sharper kernel, for domain-shift tests (`--shift other`).
"""

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ScannerProfile:
    name: str
    manufacturer: str
    model: str
    fov_mm: tuple[float, float]  # CT reconstruction field of view, sampled uniformly
    slice_thickness_mm: tuple[float, ...]  # CT slice thickness choices (increment = thickness)
    noise_hu: tuple[float, float]  # CT image noise (SD in water), sampled uniformly
    kernels: tuple[tuple[str, float], ...]  # (name, blur sigma in mm)
    kvp: tuple[int, ...]
    mr_manufacturer: str
    mr_model: str
    mr_field_t: tuple[float, ...]
    mr_pixel_mm: tuple[float, float]
    mr_noise: tuple[float, float]  # relative to CSF signal


PROFILES = {
    "default": ScannerProfile(
        name="default",
        manufacturer="SYNTHETIC MEDICAL",
        model="Phantom CT 64",
        fov_mm=(100.0, 115.0),
        slice_thickness_mm=(2.0, 2.5, 2.5, 3.0),
        noise_hu=(9.0, 16.0),
        kernels=(("B30s", 0.55), ("B45s", 0.45), ("STANDARD", 0.6)),
        kvp=(120,),
        mr_manufacturer="SYNTHETIC MEDICAL",
        mr_model="Phantom MR 1.5",
        mr_field_t=(1.5, 3.0),
        mr_pixel_mm=(0.65, 0.8),
        mr_noise=(0.02, 0.04),
    ),
    "other": ScannerProfile(
        name="other",
        manufacturer="OTHER VENDOR",
        model="Alternate CT 128",
        fov_mm=(92.0, 104.0),
        slice_thickness_mm=(1.25, 1.5),
        noise_hu=(20.0, 30.0),
        kernels=(("BONEPLUS", 0.3), ("H70h", 0.25)),
        kvp=(100, 140),
        mr_manufacturer="OTHER VENDOR",
        mr_model="Alternate MR 3T",
        mr_field_t=(3.0,),
        mr_pixel_mm=(0.55, 0.65),
        mr_noise=(0.04, 0.06),
    ),
}


@dataclass(frozen=True)
class CTAcquisition:
    manufacturer: str
    model: str
    matrix: int
    pixel_spacing_mm: float
    slice_thickness_mm: float
    noise_hu: float
    kernel: str
    kernel_sigma_mm: float
    kvp: int
    rotation_deg: tuple[float, float, float]  # about x, y, z: patient positioning on the table
    offset_mm: tuple[float, float, float]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MRAcquisition:
    manufacturer: str
    model: str
    field_strength_t: float
    sagittal_matrix: int
    sagittal_pixel_mm: float
    sagittal_slices: int
    sagittal_thickness_mm: float
    axial_matrix: int
    axial_pixel_mm: float
    axial_thickness_mm: float
    noise: float
    rotation_deg: tuple[float, float, float]
    offset_mm: tuple[float, float, float]

    def as_dict(self) -> dict:
        return asdict(self)


def sample_ct(rng: np.random.Generator, profile: ScannerProfile, *, matrix: int) -> CTAcquisition:
    kernel, sigma = profile.kernels[int(rng.integers(len(profile.kernels)))]
    return CTAcquisition(
        manufacturer=profile.manufacturer,
        model=profile.model,
        matrix=matrix,
        pixel_spacing_mm=round(float(rng.uniform(*profile.fov_mm)) / matrix, 4),
        slice_thickness_mm=float(
            profile.slice_thickness_mm[int(rng.integers(len(profile.slice_thickness_mm)))]
        ),
        noise_hu=round(float(rng.uniform(*profile.noise_hu)), 2),
        kernel=kernel,
        kernel_sigma_mm=sigma,
        kvp=int(profile.kvp[int(rng.integers(len(profile.kvp)))]),
        rotation_deg=tuple(round(float(v), 2) for v in rng.normal(0, [3.0, 2.0, 3.0])),
        offset_mm=tuple(round(float(v), 2) for v in rng.normal(0, [2.0, 2.0, 5.0])),
    )


def sample_mr(rng: np.random.Generator, profile: ScannerProfile, *, matrix: int) -> MRAcquisition:
    pixel = float(rng.uniform(*profile.mr_pixel_mm))
    return MRAcquisition(
        manufacturer=profile.mr_manufacturer,
        model=profile.mr_model,
        field_strength_t=float(profile.mr_field_t[int(rng.integers(len(profile.mr_field_t)))]),
        sagittal_matrix=matrix,
        sagittal_pixel_mm=round(pixel * 256 / matrix, 4),
        sagittal_slices=7,
        sagittal_thickness_mm=3.0,
        axial_matrix=max(matrix * 3 // 4, 64),
        axial_pixel_mm=round(0.6 * 192 / max(matrix * 3 // 4, 64), 4),
        axial_thickness_mm=3.0,
        noise=round(float(rng.uniform(*profile.mr_noise)), 4),
        # MRI is positioned independently: its own frame of reference, other angles and table offsets.
        rotation_deg=tuple(round(float(v), 2) for v in rng.normal(0, [5.0, 2.0, 3.0])),
        offset_mm=tuple(round(float(v), 2) for v in rng.normal([0, 10, 40], [3.0, 5.0, 10.0])),
    )
