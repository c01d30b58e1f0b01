"""Where a DICOM image lies: its plane's normal and kind, from ImageOrientationPatient."""

from collections.abc import Sequence

PLANES = ("sagittal", "coronal", "axial")  # the patient axis (x, y, z) each plane's normal runs along


def image_normal(orientation: Sequence | None) -> tuple[float, float, float] | None:
    """The normal of an image's plane (row direction x column direction); None when unknown."""
    if not orientation or len(orientation) != 6:
        return None
    r, c = [float(v) for v in orientation[:3]], [float(v) for v in orientation[3:]]
    return (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])


def image_plane(orientation: Sequence | None) -> str:
    """sagittal, coronal or axial: the patient axis nearest the image's normal; unknown without one."""
    normal = image_normal(orientation)
    if normal is None:
        return "unknown"
    return PLANES[max(range(3), key=lambda i: abs(normal[i]))]


def distance_to_plane(point: Sequence[float], *, position: Sequence, orientation: Sequence) -> float | None:
    """How far a point (patient mm) lies from an image's plane; None when the image has no geometry."""
    normal = image_normal(orientation)
    if normal is None or not position or len(position) != 3:
        return None
    return abs(sum((float(p) - float(q)) * v for p, q, v in zip(point, position, normal, strict=True)))
