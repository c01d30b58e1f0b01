"""The model registry and pre-annotation."""

import logging
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.common.tasks import task_send
from backend.imaging.models import Instance, PreAnnotationRequest, Study
from backend.learning import ml_bridge
from backend.learning.models import LevelPrediction, ModelPromotion, ModelVersion
from backend.learning.selectors import champion_lineage
from backend.learning.services.levels import study_levels_from_predictions
from backend.projects.models import AcquisitionStrategy, AuditAction, Project
from backend.projects.services import audit_record

logger = logging.getLogger(__name__)


def checkpoint_summary_or_error(*, checkpoint: str | Path) -> dict:
    """The checkpoint's config and metrics, or an ApplicationError saying why it is not one."""
    if not Path(checkpoint).is_file():
        raise ApplicationError(f"No checkpoint at {checkpoint}.", code="no_checkpoint")
    try:
        return ml_bridge.checkpoint_summary(checkpoint=str(checkpoint))
    except Exception as exc:  # unpicklable bytes, another format, a missing key: all "not a checkpoint"
        raise ApplicationError(f"Not a model checkpoint: {exc}", code="bad_checkpoint") from None


def model_version_number_next(*, project: Project) -> int:
    """The project's next version number, holding the project's row until the caller's transaction
    ends, so that two versions made at once (a training and an import) do not take the same number.
    (select_for_update on the MAX aggregate itself locks nothing: Django drops FOR UPDATE there.)"""
    Project.objects.select_for_update().filter(pk=project.pk).exists()
    return (project.model_versions.aggregate(n=Max("number"))["n"] or 0) + 1


@transaction.atomic
def model_version_register(
    *, project: Project, checkpoint: str, status: str = ModelVersion.Status.CHALLENGER
) -> ModelVersion:
    """Record a trained checkpoint as the project's next version (a challenger by default)."""
    summary = checkpoint_summary_or_error(checkpoint=checkpoint)
    number = model_version_number_next(project=project)
    return ModelVersion.objects.create(
        project=project,
        number=number,
        status=status,
        checkpoint=checkpoint,
        config=summary["config"],
        metrics=summary["metrics"],
    )


def _champion_change(*, version: ModelVersion, kind: str, actor) -> ModelVersion:
    """Make `version` the champion, retire the current one, and keep the change in the history."""
    champions = ModelVersion.objects.select_for_update().filter(
        project=version.project, status=ModelVersion.Status.CHAMPION
    )
    former = champions.first()
    champions.update(status=ModelVersion.Status.RETIRED)
    version.status, version.promoted_at = ModelVersion.Status.CHAMPION, timezone.now()
    version.save(update_fields=["status", "promoted_at"])
    ModelPromotion.objects.create(
        project=version.project,
        version=version,
        replaced=former,
        kind=kind,
        by=actor if actor is not None and actor.is_authenticated else None,
        at=version.promoted_at,
    )
    action = AuditAction.MODEL_PROMOTE if kind == ModelPromotion.Kind.PROMOTE else AuditAction.MODEL_ROLLBACK
    audit_record(
        actor=actor,
        action=action,
        project=version.project,
        target=version,
        details={"version": version.label, "replaced": former.label if former else None},
    )
    return version


def _preannotation_queue(*, version: ModelVersion, only_unread: bool) -> None:
    """Queue the project's CT studies for the champion's suggestions (with `only_unread`, only those
    it has no predictions for)."""
    waiting = PreAnnotationRequest.objects.filter(status=PreAnnotationRequest.Status.PENDING).values("study")
    studies = Study.objects.filter(projects=version.project, modality="CT").exclude(pk__in=waiting)
    if only_unread:
        studies = studies.exclude(
            pk__in=LevelPrediction.objects.filter(model_version=version).values("study_id")
        )
    PreAnnotationRequest.objects.bulk_create([PreAnnotationRequest(study=s) for s in studies])
    transaction.on_commit(preannotation_wake)


@transaction.atomic
def model_version_promote(*, version: ModelVersion, actor=None) -> ModelVersion:
    """Make this version the project's champion; the former champion retires. No actor: the gate
    or an import promoted it. Every CT study of the project gets the new champion's suggestions."""
    if version.status not in (ModelVersion.Status.CHALLENGER, ModelVersion.Status.RETIRED):
        raise ApplicationError(
            f"A {version.status} version cannot be promoted.", code="not_promotable", status=409
        )
    _champion_change(version=version, kind=ModelPromotion.Kind.PROMOTE, actor=actor)
    _preannotation_queue(version=version, only_unread=False)
    return version


def preannotation_wake() -> None:
    """Pre-annotate pending studies now rather than at the next scheduled pass."""
    task_send("learning.preannotate_pending")


@transaction.atomic
def model_version_rollback(
    *, project: Project, version: ModelVersion | None = None, actor=None
) -> ModelVersion:
    """Bring back an earlier champion: `version` (any version that has been champion), or by default
    the champion before the current one in the promotion history (`champion_lineage`). Studies the
    version never read are queued for its suggestions."""
    Project.objects.select_for_update().filter(pk=project.pk).exists()  # one champion change at a time
    current = project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
    if version is None:
        lineage = champion_lineage(project=project)
        if current is not None and lineage and lineage[-1] == current.pk:
            lineage.pop()
        if not lineage:
            raise ApplicationError(
                "There is no earlier champion to roll back to.", code="no_previous", status=409
            )
        version = project.model_versions.get(pk=lineage[-1])
    elif version.project_id != project.pk:
        raise ApplicationError(
            f"No version {version.number} in {project.slug!r}.", code="not_found", status=404
        )
    elif current is not None and version.pk == current.pk:
        raise ApplicationError(
            f"{version.label} is the champion already.", code="already_champion", status=409
        )
    elif version.status != ModelVersion.Status.RETIRED or not version.promotions.exists():
        raise ApplicationError(
            f"{version.label} has never been champion; promote it instead.", code="never_champion", status=409
        )
    _champion_change(version=version, kind=ModelPromotion.Kind.ROLLBACK, actor=actor)
    _preannotation_queue(version=version, only_unread=True)
    return version


BALD_SAMPLES = 10


def study_preannotate(*, study: Study, version: ModelVersion) -> list[LevelPrediction]:
    """Run a version on a CT study and store its per-level predictions (replacing earlier ones).

    Projects that rank by BALD get MC-dropout samples, hence mutual information, too.
    """
    files = [Path(i.file.path) for i in Instance.objects.filter(series__study=study).only("file")]
    mc_samples = BALD_SAMPLES if version.project.acquisition_strategy == AcquisitionStrategy.BALD else 0
    predictions = ml_bridge.predict_study(
        checkpoint=version.checkpoint, ct_files=files, mc_samples=mc_samples
    )
    rows = []
    with transaction.atomic():
        LevelPrediction.objects.filter(model_version=version, study=study).delete()
        for p in predictions:
            rows.append(
                LevelPrediction(
                    model_version=version,
                    study=study,
                    level=p.level,
                    box=p.box,
                    box_score=p.box_score,
                    probabilities=p.probabilities,
                    grade=p.grade,
                    binary_probability=p.binary_probability,
                    entropy=p.entropy,
                    mutual_information=p.mutual_information,
                    canal_ap_mm=p.canal_ap_mm,
                )
            )
        LevelPrediction.objects.bulk_create(rows)
        study_levels_from_predictions(study=study, version=version, predictions=predictions)
    return rows


def preannotation_requests_process(*, limit: int = 100) -> dict[str, int]:
    """Serve pending pre-annotation requests with each project's champion; without one they wait.

    Each request is claimed under a row lock that other workers skip, so two passes at once (the
    beat's and a promotion's wake-up) never serve the same study twice.
    """
    done = failed = waiting = 0
    served: set[int] = set()
    pending = PreAnnotationRequest.objects.filter(status=PreAnnotationRequest.Status.PENDING)
    for request_id in list(pending.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            request = pending.select_for_update(skip_locked=True).filter(pk=request_id).first()
            if request is None:  # another pass holds it or has served it
                continue
            champions = list(
                ModelVersion.objects.filter(
                    project__in=request.study.projects.all(), status=ModelVersion.Status.CHAMPION
                )
            )
            if not champions:
                waiting += 1
                continue
            try:
                with transaction.atomic():
                    for champion in champions:
                        study_preannotate(study=request.study, version=champion)
                        served.add(champion.project_id)
                request.status = PreAnnotationRequest.Status.DONE
                done += 1
            except Exception:
                logger.exception("pre-annotation of study %s failed", request.study_id)
                request.status = PreAnnotationRequest.Status.FAILED
                failed += 1
            request.save(update_fields=["status"])
    return {"done": done, "failed": failed, "waiting": waiting, "project_ids": sorted(served)}
