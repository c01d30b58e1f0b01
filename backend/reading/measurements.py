"""Caliper measurements at a level: the canal's and the vertebral body's AP diameter on the CT, each
two points in patient coordinates (mm); the length is computed here, never taken from the client."""

import math
from typing import Any

from backend.common.exceptions import ApplicationError

MEASURES = ("canal_ap", "body_ap")
MAX_COORDINATE_MM = 5000.0
MAX_LENGTH_MM = 200.0  # beyond any cervical canal or body


def _point(value: Any, *, name: str) -> list[float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE_MM for v in value)
    ):
        raise ApplicationError(
            f"{name} must be a point [x, y, z] in patient mm (each within ±{MAX_COORDINATE_MM:.0f}).",
            code="invalid_measurement",
        )
    return [round(float(v), 3) for v in value]


def measurements_valid(value: Any) -> dict[str, dict | None]:
    """{"canal_ap": {"points": [p, q]}, "body_ap": ...} -> the same with each length ("mm") computed;
    a measure sent as null stays null (it is to be removed). Anything else: 400 invalid_measurement."""
    if not isinstance(value, dict) or set(value) - set(MEASURES):
        raise ApplicationError(
            f"measurements must be an object with the keys {', '.join(MEASURES)}.", code="invalid_measurement"
        )
    found: dict[str, dict | None] = {}
    for name, measure in value.items():
        if measure is None:
            found[name] = None
            continue
        points = measure.get("points") if isinstance(measure, dict) else None
        if not isinstance(points, list) or len(points) != 2:
            raise ApplicationError(f"{name} needs two points.", code="invalid_measurement")
        first, second = (_point(p, name=f"{name} point") for p in points)
        mm = math.dist(first, second)
        if not 0.1 <= mm <= MAX_LENGTH_MM:
            raise ApplicationError(
                f"{name} is {mm:.1f} mm long; a caliper measures 0.1 to {MAX_LENGTH_MM:.0f} mm.",
                code="invalid_measurement",
            )
        found[name] = {"points": [first, second], "mm": round(mm, 2)}
    return found


def torg_pavlov_ratio(measurements: dict | None) -> float | None:
    """Canal AP / vertebral body AP, when both were measured."""
    measurements = measurements or {}
    if "canal_ap" in measurements and "body_ap" in measurements:
        return round(measurements["canal_ap"]["mm"] / measurements["body_ap"]["mm"], 3)
    return None


def measurements_merge(*, current: dict, changes: dict[str, dict | None]) -> dict:
    """The level's measurements after a save of `changes` (from measurements_valid): each measure it
    names replaces the current one (null: removes it); those it leaves out stay."""
    merged = {**(current or {}), **changes}
    return {name: measure for name, measure in merged.items() if measure is not None}
