"""File formats of the exports: streamed CSV and JSON, COCO. Pure functions of selector rows."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from backend.common.levels import LEVELS

# Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        return _text_cell(value)
    return value


def _text_cell(value: str) -> str:
    """Any text (a note, but also a PatientID or a description from a DICOM file), made safe to open
    in a spreadsheet: a leading quote, as OWASP advises."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


CSV_CHUNK_CHARS = 64 * 1024


def csv_stream(*, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Header then one line per row, each yielded as soon as it is written (for StreamingHttpResponse)."""
    buffer = io.StringIO()
    # RFC 4180's CRLF: with "\n" alone, the csv module leaves a CR inside a cell unquoted.
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = list(columns)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield flush()
    yield flush()


ANNOTATION_CSV_BOX = ("box_x0", "box_y0", "box_x1", "box_y1")


def annotation_csv_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Annotation rows for CSV: the box [x0, y0, x1, y1] split into four columns."""
    for row in rows:
        box = row.get("box") or [None] * 4
        yield {**row, **dict(zip(ANNOTATION_CSV_BOX, box, strict=False))}


def annotation_csv_columns(columns: Iterable[str]) -> list[str]:
    out = []
    for column in columns:
        out.extend(ANNOTATION_CSV_BOX if column == "box" else (column,))
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_stream(*, head: dict[str, Any], key: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`{**head, key: [items...]}` as JSON text, yielded item by item."""
    opening = json.dumps({**head, key: []}, default=_json_default)
    yield opening[: -len("[]}")] + "["
    for k, item in enumerate(items):
        yield ("," if k else "") + json.dumps(item, default=_json_default)
    yield "]}"


# COCO categories are the six disc levels (ids 1..6 in cranio-caudal order); the grade rides on
# each annotation as an attribute, so a detector trains on levels and a grader reads the grade.
COCO_CATEGORIES = [
    {"id": k + 1, "name": level, "supercategory": "disc_level"} for k, level in enumerate(LEVELS)
]
_CATEGORY_ID = {c["name"]: c["id"] for c in COCO_CATEGORIES}


def coco_document(*, data: dict[str, Any], spacing_mm: float) -> dict[str, Any]:
    """COCO detection JSON: one image per case (its CT mid-sagittal reformat), one box per reader and level.

    bbox is COCO's [x, y, width, height] in reformat pixels from the stored [x0, y0, x1, y1].
    """
    images = [
        {
            "id": image["case_id"],
            "file_name": f"{image['ct_study_uid']}/sagittal_reformat.png",
            "width": image["width"],
            "height": image["height"],
            "case_id": image["case_id"],
            "patient_id": image["patient_id"],
            "ct_study_uid": image["ct_study_uid"],
            "ct_series_uid": image["ct_series_uid"],
            "mr_study_uid": image["mr_study_uid"],
            "pixel_spacing_mm": [spacing_mm, spacing_mm],
        }
        for image in data["images"]
    ]
    annotations = []
    for a in data["annotations"]:
        x0, y0, x1, y1 = (float(v) for v in a["box"])
        w, h = x1 - x0, y1 - y0
        annotations.append(
            {
                "id": a["annotation_id"],
                "image_id": a["case_id"],
                "category_id": _CATEGORY_ID[a["level"]],
                "bbox": [x0, y0, w, h],
                "area": w * h,
                "iscrowd": 0,
                "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                "attributes": {
                    "level": a["level"],
                    "grade": a["grade"],
                    "binary": a["grade"] >= 2,
                    "reader": a["reader"],
                    "reader_experience": a["reader_experience"],
                },
            }
        )
    return {
        "info": {
            "description": f"ROI boxes of project {data['project']}: CT mid-sagittal reformats "
            "(rows superior to inferior, columns anterior to posterior)",
            "project": data["project"],
            "date_created": datetime.now().astimezone().isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": images,
        "categories": COCO_CATEGORIES,
        "annotations": annotations,
    }
