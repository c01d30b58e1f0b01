"""CT volumes from DICOM files, and the mid-sagittal reformat the detector works on.

The reformat is defined from the volume alone (no manifest), so that training data, the
generator's ROI boxes and inference on a new study all use the same image: rows run from the
most superior slice downwards, columns from anterior to posterior, both at REFORMAT_SPACING_MM;
each pixel is the mean HU of a thin slab around the spine's mid-sagittal plane.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from scipy.ndimage import map_coordinates

REFORMAT_SPACING_MM = 0.5
REFORMAT_SLAB_MM = 3.0
BONE_HU = 250.0
# A level's ROI box around the canal's centre: the disc with half a body above and below, the canal
# with a margin in front and behind (as the synthetic cohort's boxes are drawn).
ROI_HALF_HEIGHT_MM = 6.0
ROI_HALF_DEPTH_MM = 10.5


class ImagingError(ValueError):
    """The files do not form a CT volume that can be read."""


@dataclass
class CTVolume:
    hu: np.ndarray  # (slices, rows, cols), superior slice first, float32 HU
    x0: float  # patient x of the first column's centre
    y0: float  # patient y of the first row's centre
    z: np.ndarray  # patient z of each slice, descending
    row_spacing: float
    col_spacing: float


def load_ct_volume(paths: Iterable[str | Path]) -> CTVolume:
    """Read an axial CT series (any order of files) into HU."""
    slices = []
    for path in paths:
        ds = pydicom.dcmread(path)
        if getattr(ds, "Modality", None) != "CT":
            raise ImagingError(f"{path}: modality {getattr(ds, 'Modality', None)!r}, expected CT")
        slices.append(ds)
    if not slices:
        raise ImagingError("no CT files given")
    orientation = np.asarray(slices[0].ImageOrientationPatient, float)
    # Axial series stored mirrored (rows along -x, columns along -y) are flipped into the usual order.
    flip_x, flip_y = orientation[0] < 0, orientation[4] < 0
    if not np.allclose(np.abs(orientation), [1, 0, 0, 0, 1, 0], atol=1e-3):
        raise ImagingError(f"only axial CT series are supported, got orientation {orientation.tolist()}")
    slices.sort(key=lambda ds: -float(ds.ImagePositionPatient[2]))
    hu = np.stack(
        [
            ds.pixel_array.astype(np.float32) * float(getattr(ds, "RescaleSlope", 1))
            + float(getattr(ds, "RescaleIntercept", 0))
            for ds in slices
        ]
    )
    first = slices[0]
    row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
    x0, y0 = float(first.ImagePositionPatient[0]), float(first.ImagePositionPatient[1])
    if flip_x:
        hu, x0 = hu[:, :, ::-1], x0 - (hu.shape[2] - 1) * col_spacing
    if flip_y:
        hu, y0 = hu[:, ::-1, :], y0 - (hu.shape[1] - 1) * row_spacing
    return CTVolume(
        hu=np.ascontiguousarray(hu),
        x0=x0,
        y0=y0,
        z=np.array([float(ds.ImagePositionPatient[2]) for ds in slices]),
        row_spacing=row_spacing,
        col_spacing=col_spacing,
    )


@dataclass(frozen=True)
class SagittalImage:
    """A sagittal image with its place in patient space: rows run inferiorly, columns posteriorly."""

    image: np.ndarray
    origin: np.ndarray  # patient (x, y, z) of pixel (0, 0)'s centre
    row_step: np.ndarray  # patient mm moved by one row down
    col_step: np.ndarray  # patient mm moved by one column right

    @property
    def pixel_mm(self) -> float:
        return float(np.linalg.norm(self.row_step))

    def to_patient(self, row: float, col: float) -> np.ndarray:
        return self.origin + row * self.row_step + col * self.col_step

    def to_pixel(self, point: np.ndarray) -> tuple[float, float]:
        offset = np.asarray(point, float) - self.origin
        return (
            float(offset @ self.row_step / (self.row_step @ self.row_step)),
            float(offset @ self.col_step / (self.col_step @ self.col_step)),
        )

    @classmethod
    def from_dataset(cls, ds) -> "SagittalImage":
        """A sagittal DICOM image, flipped as needed (a series stored upside down or mirrored)."""
        orientation = np.asarray(ds.ImageOrientationPatient, float)
        along_row, along_col = orientation[:3], orientation[3:]
        if abs(np.cross(along_row, along_col)[0]) < 0.8:
            raise ImagingError("not a sagittal image (its normal is not left-right)")
        row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
        image = ds.pixel_array.astype(np.float32) * float(getattr(ds, "RescaleSlope", 1) or 1)
        origin = np.asarray(ds.ImagePositionPatient, float)
        col_step, row_step = along_row * col_mm, along_col * row_mm
        if abs(col_step[2]) > abs(col_step[1]):  # rows and columns swapped: transpose
            image, col_step, row_step = image.T, row_step, col_step
        if row_step[2] > 0:
            origin = origin + row_step * (image.shape[0] - 1)
            image, row_step = image[::-1], -row_step
        if col_step[1] < 0:
            origin = origin + col_step * (image.shape[1] - 1)
            image, col_step = image[:, ::-1], -col_step
        return cls(np.ascontiguousarray(image), origin, row_step, col_step)


@dataclass(frozen=True)
class SagittalReformat:
    image: np.ndarray  # (rows = z downwards, cols = y anterior to posterior), HU
    z_top: float
    y_first: float
    x_mid: float
    spacing: float = REFORMAT_SPACING_MM

    def as_sagittal_image(self) -> SagittalImage:
        return SagittalImage(
            self.image,
            np.array([self.x_mid, self.y_first, self.z_top]),
            np.array([0.0, 0.0, -self.spacing]),
            np.array([0.0, self.spacing, 0.0]),
        )

    def box_to_patient(self, box) -> tuple[np.ndarray, np.ndarray]:
        """A [x0, y0, x1, y1] box of the reformat's pixels as its two corners in patient mm."""
        image = self.as_sagittal_image()
        return image.to_patient(float(box[1]), float(box[0])), image.to_patient(float(box[3]), float(box[2]))


def spine_midline_x(volume: CTVolume) -> float:
    """Patient x of the mid-sagittal plane: the centre of the bone in the volume's columns."""
    bone = (volume.hu > BONE_HU).sum(axis=(0, 1)).astype(np.float64)
    if bone.sum() == 0:
        return volume.x0 + volume.col_spacing * (volume.hu.shape[2] - 1) / 2
    cols = np.arange(len(bone))
    centre = np.sum(cols * bone) / bone.sum()
    # Refine on the central third of the bone mass, so that lateral asymmetry does not pull it.
    window = np.abs(cols - centre) <= 25.0 / volume.col_spacing
    centre = np.sum(cols[window] * bone[window]) / max(bone[window].sum(), 1.0)
    return float(volume.x0 + centre * volume.col_spacing)


def sagittal_reformat(volume: CTVolume, *, x_mid: float | None = None) -> SagittalReformat:
    x_mid = spine_midline_x(volume) if x_mid is None else x_mid
    centre_col = (x_mid - volume.x0) / volume.col_spacing
    half = max(1, int(round(REFORMAT_SLAB_MM / 2 / volume.col_spacing)))
    lo = int(np.clip(round(centre_col) - half, 0, volume.hu.shape[2] - 1))
    hi = int(np.clip(round(centre_col) + half + 1, lo + 1, volume.hu.shape[2]))
    slab = volume.hu[:, :, lo:hi].mean(axis=2)  # (slices, rows=y)
    z_top, z_bottom = float(volume.z[0]), float(volume.z[-1])
    n_rows = int(np.floor((z_top - z_bottom) / REFORMAT_SPACING_MM)) + 1
    n_cols = int(np.floor((volume.hu.shape[1] - 1) * volume.row_spacing / REFORMAT_SPACING_MM)) + 1
    z_out = z_top - np.arange(n_rows) * REFORMAT_SPACING_MM
    slice_index = np.interp(-z_out, -volume.z, np.arange(len(volume.z)))
    row_index = np.arange(n_cols) * REFORMAT_SPACING_MM / volume.row_spacing
    rr, cc = np.meshgrid(slice_index, row_index, indexing="ij")
    image = map_coordinates(slab, [rr, cc], order=1, mode="nearest").astype(np.float32)
    return SagittalReformat(image=image, z_top=z_top, y_first=volume.y0, x_mid=x_mid)


def roi_box_around(reformat: SagittalReformat, point) -> list[float]:
    """The [x0, y0, x1, y1] box (reformat pixels) of the level whose canal centre is `point` (mm)."""
    row, col = reformat.as_sagittal_image().to_pixel(np.asarray(point, float))
    half_h, half_w = ROI_HALF_HEIGHT_MM / reformat.spacing, ROI_HALF_DEPTH_MM / reformat.spacing
    return [round(col - half_w, 2), round(row - half_h, 2), round(col + half_w, 2), round(row + half_h, 2)]


def window(hu: np.ndarray, *, center: float, width: float) -> np.ndarray:
    """HU to [0, 1] through a display window."""
    return np.clip((hu - (center - width / 2)) / width, 0.0, 1.0)
