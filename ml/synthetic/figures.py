"""One PNG per grade: CT and MRI side by side at a level of that grade.

python -m ml.synthetic.figures --cohort DIR --out docs/images
Panels: CT mid-sagittal reformat (bone window) and CT axial at the disc (soft-tissue window),
then T2 MRI mid-sagittal and T2 axial through the same disc; the level is framed in red.
"""

import argparse
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw

from ml.imaging import load_ct_volume, sagittal_reformat, window
from ml.synthetic.cohort import load_manifest

PANEL = 256


def _panel(values: np.ndarray, box: list[float] | None = None, label: str = "") -> Image.Image:
    image = Image.fromarray((values * 255).astype(np.uint8)).convert("RGB")
    scale = PANEL / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    canvas = Image.new("RGB", (PANEL, PANEL))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    if box is not None:
        draw.rectangle([v * scale for v in box], outline=(255, 40, 40), width=2)
    draw.text((4, PANEL - 14), label, fill=(255, 255, 0))
    return canvas


def _crop(values: np.ndarray, centre: tuple[float, float], half: int) -> tuple[np.ndarray, tuple[int, int]]:
    col, row = int(round(centre[0])), int(round(centre[1]))
    r0, c0 = max(row - half, 0), max(col - half, 0)
    return values[r0 : row + half, c0 : col + half], (c0, r0)


def grade_figure(cohort: Path, patient: dict, level: dict) -> Image.Image:
    ct = load_ct_volume(sorted((cohort / patient["ct"]["path"]).glob("*.dcm")))
    reformat = sagittal_reformat(ct)
    x0, y0, x1, y1 = level["roi_sagittal"]
    sag, (c0, r0) = _crop(window(reformat.image, center=400, width=1800), ((x0 + x1) / 2, (y0 + y1) / 2), 70)
    ct_sag = _panel(sag, [x0 - c0, y0 - r0, x1 - c0, y1 - r0], f"CT sagittal {level['level']}")
    axial = window(ct.hu[level["disc_slice_index"]], center=40, width=350)
    ct_ax = _panel(axial, level["roi_axial"], f"CT axial, canal {level['canal_ap_mm']:.1f} mm")

    sag_files = sorted((cohort / patient["mr"]["sagittal_path"]).glob("*.dcm"))
    mr_sag = pydicom.dcmread(sag_files[len(sag_files) // 2]).pixel_array.astype(np.float32)
    mr_crop, _ = _crop(window(mr_sag, center=550, width=1100), level["mr_sagittal_point"], 64)
    ax_files = sorted((cohort / patient["mr"]["axial_path"]).glob("*.dcm"))
    mr_ax = pydicom.dcmread(ax_files[level["mr_axial_instance"] - 1]).pixel_array.astype(np.float32)
    panels = [
        ct_sag,
        ct_ax,
        _panel(mr_crop, None, "T2 sagittal"),
        _panel(window(mr_ax, center=550, width=1100), None, "T2 axial"),
    ]
    figure = Image.new("RGB", (PANEL * 4 + 6, PANEL + 24), (20, 20, 20))
    ImageDraw.Draw(figure).text(
        (6, 5),
        f"Grade {level['grade']} ({level['mechanism']}) - {patient['patient_id']} {level['level']}",
        fill=(230, 230, 230),
    )
    for k, panel in enumerate(panels):
        figure.paste(panel, (k * (PANEL + 2), 24))
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.synthetic.figures", description=__doc__)
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    manifest = load_manifest(args.cohort)
    args.out.mkdir(parents=True, exist_ok=True)
    for grade in range(4):
        found = next(
            (
                (p, lv)
                for p in manifest["patients"]
                for lv in p["levels"]
                if lv["grade"] == grade and lv["level"] != "C7/T1"
            ),
            None,
        )
        if found is None:
            print(f"grade {grade}: no level of this grade in the cohort")
            continue
        path = args.out / f"synthetic_grade{grade}.png"
        grade_figure(args.cohort, *found).save(path)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
