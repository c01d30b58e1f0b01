"""Generate a cohort: one folder of DICOM per patient (CT and MR studies) and manifest.json.

Every patient draws from its own random stream, seeded by (cohort seed, patient index), so a
cohort is identical whatever the number of worker processes, and patient k of a 10-patient
cohort is patient k of a 200-patient one with the same seed.
"""

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ml import LEVELS
from ml.imaging import REFORMAT_SLAB_MM, REFORMAT_SPACING_MM
from ml.synthetic import render as R
from ml.synthetic.anatomy import PatientAnatomy, sample_anatomy
from ml.synthetic.dicom import PatientIdentity, StudyInfo, make_uid, write_ct_series, write_mr_series
from ml.synthetic.oracle import oracle_accuracy
from ml.synthetic.readers import make_panel, read_level
from ml.synthetic.scanners import PROFILES, sample_ct, sample_mr

SCHEMA_VERSION = 1
DEFAULT_IMAGE_SIZE = 224
ROI_HALF_HEIGHT_MM = 6.0
ROI_MARGIN_MM = 4.0
PAIRING_WINDOW_DAYS = 30


@dataclass(frozen=True)
class CohortConfig:
    out: Path
    patients: int
    seed: int = 0
    image_size: int = DEFAULT_IMAGE_SIZE
    profile: str = "default"
    shift: str | None = None  # a second scanner profile for every patient (domain shift)
    first_index: int = 0
    workers: int = 1

    @property
    def scanner(self) -> str:
        return self.shift or self.profile


def generate_cohort(config: CohortConfig, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the cohort and return its manifest (also saved as out/manifest.json)."""
    if config.scanner not in PROFILES:
        raise ValueError(f"unknown scanner profile {config.scanner!r}; known: {sorted(PROFILES)}")
    if config.patients < 1:
        raise ValueError("a cohort needs at least one patient")
    if config.image_size < 64:
        raise ValueError("image size must be at least 64 pixels")
    config.out.mkdir(parents=True, exist_ok=True)
    indices = range(config.first_index, config.first_index + config.patients)
    entries: list[dict] = []
    if config.workers > 1:
        # spawn, not fork: forking a process that runs other threads (a web server, torch) can deadlock
        with ProcessPoolExecutor(
            max_workers=config.workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            for entry in pool.map(_generate_patient, [(config, i) for i in indices]):
                entries.append(entry)
                if progress:
                    progress(len(entries), config.patients)
    else:
        for index in indices:
            entries.append(_generate_patient((config, index)))
            if progress:
                progress(len(entries), config.patients)
    panel = make_panel(seed=config.seed)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generator": "ml.synthetic",
        "seed": config.seed,
        "scanner_profile": config.scanner,
        "image_size": config.image_size,
        "levels": list(LEVELS),
        "grades": {
            "0": "no canal narrowing",
            "1": ">50% of the subarachnoid space obliterated, no cord deformity",
            "2": "cord deformity, no cord signal change",
            "3": "T2 hyperintense cord signal at the level",
        },
        "reformat": {
            "description": "mid-sagittal CT reformat from ml.imaging.sagittal_reformat: rows from the most "
            "superior slice downwards, columns anterior to posterior; roi_sagittal = [x0, y0, x1, y1] in its pixels",
            "spacing_mm": REFORMAT_SPACING_MM,
            "slab_mm": REFORMAT_SLAB_MM,
        },
        "readers": [{"name": r.name, "experience": r.experience} for r in panel],
        "pairing_window_days": PAIRING_WINDOW_DAYS,
        "patients": entries,
    }
    if len(entries) >= 2:
        manifest["oracle"] = oracle_accuracy(manifest)
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _generate_patient(job: tuple[CohortConfig, int]) -> dict:
    config, index = job
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, index]))
    anatomy = sample_anatomy(rng)
    profile = PROFILES[config.scanner]
    ct = sample_ct(rng, profile, matrix=config.image_size)
    mr = sample_mr(rng, profile, matrix=max(256 * config.image_size // DEFAULT_IMAGE_SIZE, 64))
    patient_id = f"SYN{config.seed:03d}-{index + 1:04d}"
    identity = PatientIdentity(
        patient_id=patient_id,
        name=f"PHANTOM^{index + 1:04d}",
        birth_date=(date(2025, 1, 1) - timedelta(days=int(anatomy.age * 365.25))).strftime("%Y%m%d"),
        sex="M" if rng.random() < 0.55 else "F",
        age=int(anatomy.age),
    )
    ct_date = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
    mr_date = ct_date + timedelta(days=int(rng.integers(0, 21)))
    folder = config.out / patient_id
    ct_study = StudyInfo(
        study_uid=make_uid(config.seed, index, "ct-study"),
        frame_of_reference_uid=make_uid(config.seed, index, "ct-frame"),
        study_date=ct_date,
        accession=f"CT{config.seed:03d}{index + 1:06d}",
        description="CT CERVICAL SPINE WO CONTRAST",
    )
    mr_study = StudyInfo(
        study_uid=make_uid(config.seed, index, "mr-study"),
        frame_of_reference_uid=make_uid(config.seed, index, "mr-frame"),
        study_date=mr_date,
        accession=f"MR{config.seed:03d}{index + 1:06d}",
        description="MRI CERVICAL SPINE WO CONTRAST",
    )

    ct_place = R.Placement.of(ct)
    grid = R.ct_grid(anatomy, ct, ct_place)
    volume = R.render_ct(anatomy, ct, ct_place, grid, rng)
    ct_series = make_uid(config.seed, index, "ct-series")
    write_ct_series(
        folder / "CT",
        volume,
        patient=identity,
        study=ct_study,
        series_uid=ct_series,
        x0=grid.x0,
        y0=grid.y0,
        z_positions=grid.z_positions,
        spacing=grid.spacing,
        acquisition=ct,
    )

    mr_place = R.Placement.of(mr)
    t2 = R.mr_tissue_t2(rng)
    sagittal = R.mr_sagittal_planes(anatomy, mr, mr_place)
    axial = R.mr_axial_planes(anatomy, mr, mr_place)
    sag_series = make_uid(config.seed, index, "mr-sag-series")
    ax_series = make_uid(config.seed, index, "mr-ax-series")
    write_mr_series(
        folder / "MR_SAG_T2",
        R.render_mr(anatomy, mr, mr_place, sagittal, rng, t2),
        sagittal,
        patient=identity,
        study=mr_study,
        series_uid=sag_series,
        series_number=3,
        description="SAG T2 TSE",
        acquisition=mr,
        prefix="SAG",
    )
    write_mr_series(
        folder / "MR_AX_T2",
        R.render_mr(anatomy, mr, mr_place, axial, rng, t2),
        axial,
        patient=identity,
        study=mr_study,
        series_uid=ax_series,
        series_number=4,
        description="AX T2 TSE DISC-ALIGNED",
        acquisition=mr,
        prefix="AX",
    )

    panel = make_panel(seed=config.seed)
    levels = []
    for k, level in enumerate(LEVELS):
        truth = anatomy.truths[k]
        geometry = _level_geometry(anatomy, k, grid, ct_place, sagittal[len(sagittal) // 2], mr_place)
        levels.append(
            {
                "level": level,
                "grade": truth.grade,
                "binary": int(truth.grade >= 2),
                "mechanism": truth.primary_mechanism,
                "mechanisms": anatomy.pathology[k].mechanisms,
                **anatomy.level_measures(k),
                "csf_reserve_ratio": truth.csf_reserve_ratio,
                "cord_compression": truth.cord_compression,
                "cord_signal_change": anatomy.pathology[k].cord_signal_change,
                "severity": truth.severity,
                **geometry,
                "mr_axial_instance": k + 1,
                "reader_grades": {
                    r.name: read_level(
                        r, severity=truth.severity, patient_id=patient_id, level=level, seed=config.seed
                    )
                    for r in panel
                },
            }
        )
    return {
        "patient_id": patient_id,
        "folder": patient_id,
        "age": identity.age,
        "sex": identity.sex,
        "developmentally_narrow_canal": anatomy.narrow_canal,
        "cord_ap_mm": round(anatomy.cord_ap, 2),
        "lordosis_mm": round(anatomy.lordosis_mm, 2),
        "ct": {
            "study_uid": ct_study.study_uid,
            "series_uid": ct_series,
            "study_date": ct_date.isoformat(),
            "path": f"{patient_id}/CT",
            "n_slices": int(len(grid.z_positions)),
            "scanner": ct.as_dict(),
        },
        "mr": {
            "study_uid": mr_study.study_uid,
            "study_date": mr_date.isoformat(),
            "sagittal_series_uid": sag_series,
            "axial_series_uid": ax_series,
            "sagittal_path": f"{patient_id}/MR_SAG_T2",
            "axial_path": f"{patient_id}/MR_AX_T2",
            "scanner": mr.as_dict(),
        },
        "levels": levels,
    }


def _level_geometry(
    anatomy: PatientAnatomy,
    level: int,
    grid: R.CTGrid,
    ct_place: R.Placement,
    mid_sagittal: R.MRPlane,
    mr_place: R.Placement,
) -> dict:
    """Where the level is in the CT (disc slice, ROI boxes) and in the MR mid-sagittal image."""
    s = float(anatomy.level_s[level])
    a_half = anatomy.profile_at("canal_ap", s) / 2
    w_half = anatomy.profile_at("canal_width", s) / 2
    # The disc where it borders the canal (where stenosis is judged); with lordosis and a tilted
    # head, the disc's front and back lie at other axial slices.
    centre = ct_place.to_patient(anatomy.spine_point(s, -a_half - 1.0))
    z_top = float(grid.z_positions[0])
    corners = [
        ct_place.to_patient(anatomy.spine_point(s + ds, u))
        for ds in (-ROI_HALF_HEIGHT_MM, ROI_HALF_HEIGHT_MM)
        for u in (-a_half - ROI_MARGIN_MM, a_half + ROI_MARGIN_MM)
    ]
    cols = [(p[1] - grid.y0) / REFORMAT_SPACING_MM for p in corners]
    rows = [(z_top - p[2]) / REFORMAT_SPACING_MM for p in corners]
    slice_index = int(np.argmin(np.abs(grid.z_positions - centre[2])))
    axial_corners = [
        ct_place.to_patient(anatomy.spine_point(s, u, x))
        for x in (-w_half - 1, w_half + 1)
        for u in (-a_half - 1, a_half + 1)
    ]
    mr_centre = mr_place.to_patient(anatomy.spine_point(s))
    mr_offset = mr_centre - mid_sagittal.position
    # The disc's centre (mid-sagittal, halfway through the body's depth), its plane's normal and
    # the canal's centre at the level, in each study's own patient frame: the level finder's truth.
    disc_u = -a_half - anatomy.profile_at("body_ap", s) / 2
    axis = anatomy.spine_axis(s)

    def _point(place: R.Placement, u: float) -> list[float]:
        return [round(float(v), 3) for v in place.to_patient(anatomy.spine_point(s, u))]

    def _normal(place: R.Placement) -> list[float]:
        return [round(float(v), 4) for v in -(place.rotation @ axis)]  # pointing superiorly

    return {
        "ct_disc_centre_mm": _point(ct_place, disc_u),
        "ct_canal_centre_mm": _point(ct_place, 0.0),
        "ct_disc_normal": _normal(ct_place),
        "mr_disc_centre_mm": _point(mr_place, disc_u),
        "mr_canal_centre_mm": _point(mr_place, 0.0),
        "mr_disc_normal": _normal(mr_place),
        "disc_z_mm": round(float(centre[2]), 3),
        "disc_slice_index": slice_index,
        "disc_instance_number": slice_index + 1,
        "roi_sagittal": [round(min(cols), 2), round(min(rows), 2), round(max(cols), 2), round(max(rows), 2)],
        "roi_axial": [
            round(min((p[0] - grid.x0) / grid.spacing for p in axial_corners), 2),
            round(min((p[1] - grid.y0) / grid.spacing for p in axial_corners), 2),
            round(max((p[0] - grid.x0) / grid.spacing for p in axial_corners), 2),
            round(max((p[1] - grid.y0) / grid.spacing for p in axial_corners), 2),
        ],
        "mr_sagittal_point": [
            round(float(np.dot(mr_offset, mid_sagittal.row_dir) / mid_sagittal.pixel_mm), 2),
            round(float(np.dot(mr_offset, mid_sagittal.col_dir) / mid_sagittal.pixel_mm), 2),
        ],
    }


def load_manifest(cohort: str | os.PathLike) -> dict:
    path = Path(cohort)
    path = path / "manifest.json" if path.is_dir() else path
    return json.loads(path.read_text())
