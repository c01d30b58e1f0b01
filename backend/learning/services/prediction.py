"""Predictions for outside callers: the project's champion on one CT study, stored or uploaded."""

import logging
import time

from backend.common.exceptions import ApplicationError
from backend.imaging.models import IngestJob, Study
from backend.imaging.services import ingest_job_create, ingest_job_run, staging_dir_create, upload_stage
from backend.learning.models import LevelPrediction
from backend.learning.selectors import champion_get
from backend.learning.services.registry import study_preannotate
from backend.projects.models import Project

logger = logging.getLogger(__name__)


def study_predict(*, project: Project, study: Study) -> dict:
    """The champion's per-level result for a CT study of the project: the stored one when it has read
    the study already, else computed now (a few seconds on a CPU)."""
    if study.modality != "CT":
        raise ApplicationError(
            f"Study {study.study_uid} is {study.modality}; the model reads CT.", code="not_ct", status=400
        )
    champion = champion_get(project=project)
    if champion is None:
        raise ApplicationError("This project has no model yet.", code="no_model", status=409)
    started = time.perf_counter()
    predictions = list(LevelPrediction.objects.filter(model_version=champion, study=study).order_by("level"))
    computed = not predictions
    if computed:
        try:
            study_preannotate(study=study, version=champion)
        except (OSError, ValueError, RuntimeError, KeyError) as error:  # a checkpoint gone, unreadable
            logger.exception("prediction with %s on study %s failed", champion.label, study.pk)
            raise ApplicationError(
                f"The model {champion.label} could not run: {type(error).__name__}.",
                code="model_failed",
                status=503,
            ) from None
        predictions = list(
            LevelPrediction.objects.filter(model_version=champion, study=study).order_by("level")
        )
    return {
        "model_version": champion.label,
        "study_uid": study.study_uid,
        "computed": computed,
        "seconds": round(time.perf_counter() - started, 3),
        "levels": [
            {
                "level": p.level,
                "grade": p.grade,
                "probabilities": p.probabilities,
                "binary_probability": p.binary_probability,
                "entropy": p.entropy,
                "box": p.box,
                "box_score": p.box_score,
                "canal_ap_mm": p.canal_ap_mm,
            }
            for p in predictions
        ],
    }


def upload_predict(*, project: Project, files, user) -> dict:
    """Store uploaded DICOM files (or zips) in the project as an upload would, then predict on the CT
    study among them; files that cannot be stored are named in a 400."""
    staging = staging_dir_create()
    upload_stage(files=files, staging=staging)
    job = ingest_job_create(source=IngestJob.Source.UPLOAD, project=project, user=user, staging_dir=staging)
    outcomes = []
    ingest_job_run(job=job, progress=outcomes.append)
    rejected = [o for o in outcomes if o.status == "rejected"]
    if rejected:
        named = "; ".join(f"{o.file}: {o.message}" for o in rejected[:5])
        raise ApplicationError(
            f"{len(rejected)} file(s) could not be stored: {named}",
            code="bad_upload",
            extra={"files": [{"file": o.file, "code": o.code, "message": o.message} for o in rejected[:100]]},
        )
    uids = {o.study_uid for o in outcomes if o.study_uid}
    studies = list(Study.objects.filter(study_uid__in=uids, modality="CT"))
    if len(studies) != 1:
        raise ApplicationError(
            f"The upload holds {len(studies)} CT studies; send exactly one.", code="one_ct_study", status=400
        )
    return study_predict(project=project, study=studies[0])
