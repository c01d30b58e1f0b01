"""A frame as a displayable 8-bit image: rescaled to its modality's units, windowed, encoded."""

import io

import numpy as np
import pydicom
from PIL import Image


class WindowError(ValueError):
    pass


def frame_values(ds: pydicom.Dataset, *, number: int, frames: int) -> np.ndarray:
    """Frame `number` (from 1) in modality units (HU for CT): RescaleSlope and RescaleIntercept applied."""
    pixels = ds.pixel_array if frames == 1 else ds.pixel_array[number - 1]
    return pixels.astype(np.float32) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def window_of(param: str | None, ds: pydicom.Dataset, values: np.ndarray) -> tuple[float, float]:
    """(centre, width): the request's "centre,width", else the file's own window, else the full range."""
    if param:
        try:
            center, width = (float(v) for v in param.split(",")[:2])
        except ValueError:
            raise WindowError("window must be 'center,width'") from None
        return center, max(width, 1.0)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        first = lambda v: float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v)  # noqa: E731
        return first(ds.WindowCenter), max(first(ds.WindowWidth), 1.0)
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2, max(high - low, 1.0)


def encode(values: np.ndarray, *, center: float, width: float, jpeg: bool = False) -> tuple[bytes, str]:
    """The windowed frame as PNG (or JPEG) bytes, and their content type."""
    image = np.clip((values - (center - width / 2)) / width * 255, 0, 255).astype(np.uint8)
    fmt, content_type = ("JPEG", "image/jpeg") if jpeg else ("PNG", "image/png")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue(), content_type
