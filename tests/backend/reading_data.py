"""A small synthetic reading project (ml.synthetic phantoms at 64 px): cases, and a champion whose
suggestions are the cohort's own ROI boxes and grades. Shared by the reading tests and benchmark."""

from pathlib import Path

from backend.imaging.models import IngestJob, Study
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import LevelPrediction, ModelVersion
from backend.projects.models import Project
from backend.projects.services import project_create
from backend.reading.level_positions import level_positions_record_finding
from backend.reading.models import LevelPosition
from backend.reading.services import case_sync_for_project


def synthetic_cohort(out: Path, *, patients: int, image_size: int = 64, seed: int = 7) -> dict:
    from ml.synthetic import CohortConfig, generate_cohort, load_manifest

    if (out / "manifest.json").is_file():
        return load_manifest(out)
    return generate_cohort(CohortConfig(out=out, patients=patients, seed=seed, image_size=image_size))


def champion_from_manifest(*, project: Project, manifest: dict, number: int = 1) -> ModelVersion:
    """A champion whose per-level predictions are the phantoms' true boxes and grades."""
    version = ModelVersion.objects.create(project=project, number=number, status=ModelVersion.Status.CHAMPION)
    studies = dict(Study.objects.filter(modality="CT").values_list("study_uid", "pk"))
    predictions = []
    for patient in manifest["patients"]:
        for level in patient["levels"]:
            probabilities = [0.05] * 4
            probabilities[level["grade"]] = 0.85
            predictions.append(
                LevelPrediction(
                    model_version=version,
                    study_id=studies[patient["ct"]["study_uid"]],
                    level=level["level"],
                    box=level["roi_sagittal"],
                    box_score=0.9,
                    probabilities=probabilities,
                    grade=level["grade"],
                    binary_probability=sum(probabilities[2:]),
                    entropy=0.6,
                    canal_ap_mm=level["canal_ap_mm"],
                )
            )
    LevelPrediction.objects.bulk_create(predictions)
    for patient in manifest["patients"]:  # a trusted detector's level lines: the truth
        level_positions_record_finding(
            study=Study.objects.get(study_uid=patient["ct"]["study_uid"]),
            source=LevelPosition.Source.MODEL,
            model_version=version.label,
            levels=[
                {
                    "level": lv["level"],
                    "centre": lv["ct_disc_centre_mm"],
                    "normal": lv["ct_disc_normal"],
                    "canal": lv["ct_canal_centre_mm"],
                    "confidence": 0.9,
                }
                for lv in patient["levels"]
            ],
        )
    return version


def synthetic_reading_project(
    root: Path, *, patients: int = 2, slug: str = "spine", champion: bool = True, image_size: int = 64
) -> tuple[Project, dict]:
    """A project with one case per synthetic patient (none blinded) and, optionally, a champion."""
    manifest = synthetic_cohort(root / "cohort", patients=patients, image_size=image_size)
    project = project_create(name=slug.title(), slug=slug, blinded_share=0.0)
    files = sorted((root / "cohort").rglob("*.dcm"))
    ingest_job_run(job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project), paths=files)
    case_sync_for_project(project=project)
    if champion:
        champion_from_manifest(project=project, manifest=manifest)
    return project, manifest
