"""Training runs: start (never two per project), execute through `ml`, reap dead ones, retry."""

import logging
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.common.tasks import task_send
from backend.imaging.models import Instance
from backend.learning import ml_bridge
from backend.learning.models import ModelVersion, ReferenceLabel, TrainingRun
from backend.learning.selectors import champion_get
from backend.learning.services.gate import model_version_gate
from backend.learning.services.registry import model_version_number_next
from backend.projects.models import AuditAction, Project
from backend.projects.services import audit_record
from backend.reading.level_positions import level_positions_for_training
from backend.reading.models import LevelPosition
from backend.reading.selectors import canal_ap_for_training

logger = logging.getLogger(__name__)

MIN_TRAINING_STUDIES = 3


def training_labels_count(*, project: Project) -> int:
    """Reference labels that a training can use: outside the frozen reference set, on a level that
    has a box or a position (a reader's, the model's or the finder's) to crop it from."""
    placed = LevelPosition.objects.filter(
        study_id=OuterRef("case__pair__ct_study_id"), level=OuterRef("level")
    )
    labels = ReferenceLabel.objects.filter(case__project=project, frozen=False)
    return labels.filter(Q(box__isnull=False) | Exists(placed)).count()


def training_run_start(
    *,
    project: Project,
    trigger: str = TrainingRun.Trigger.MANUAL,
    retry_of: TrainingRun | None = None,
    queue: bool = True,
    actor=None,
) -> TrainingRun:
    """Queue a training of the project's model; 409 while another one is queued or running.
    Audited (no actor: the threshold or the schedule started it)."""
    if trigger not in TrainingRun.Trigger.values:
        raise ApplicationError(f"Unknown trigger {trigger!r}.", code="invalid_trigger")
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                project=project,
                trigger=trigger,
                retry_of=retry_of,
                labels_used=training_labels_count(project=project),
            )
    except IntegrityError:
        raise ApplicationError(
            "A training of this project is queued or running already.", code="training_active", status=409
        ) from None
    audit_record(
        actor=actor,
        action=AuditAction.TRAINING_RETRY if retry_of else AuditAction.TRAINING_START,
        project=project,
        target=run,
        details={"trigger": trigger, "retry_of": retry_of.pk if retry_of else None},
    )

    def send() -> None:
        if not _training_run_send(run=run):
            training_run_fail(run=run, error="The task queue is unreachable; retry when it is back.")

    if queue:  # a caller that runs the training itself (the simulation) must not race a worker for it
        transaction.on_commit(send)
    return run


def _training_run_send(*, run: TrainingRun) -> bool:
    if not task_send("learning.train_model", run.pk, queue=settings.TRAINING_QUEUE):
        return False
    TrainingRun.objects.filter(pk=run.pk).update(sent_at=timezone.now())
    return True


def _new_labels_since_last_training(*, project: Project) -> int:
    last = project.training_runs.exclude(status=TrainingRun.Status.FAILED).aggregate(n=Max("labels_used"))[
        "n"
    ]
    return training_labels_count(project=project) - (last or 0)


def training_run_maybe_start(*, project: Project, queue: bool = True) -> TrainingRun | None:
    """Start a training once `retrain_threshold` new training labels came in since the last one."""
    if TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE).exists():
        return None
    if _new_labels_since_last_training(project=project) < project.retrain_threshold:
        return None
    studies = (
        ReferenceLabel.objects.filter(case__project=project, frozen=False).values("case").distinct().count()
    )
    if studies < MIN_TRAINING_STUDIES:
        return None
    try:
        return training_run_start(project=project, trigger=TrainingRun.Trigger.THRESHOLD, queue=queue)
    except ApplicationError:  # another process started one meanwhile
        return None


def training_runs_start_scheduled() -> list[TrainingRun]:
    """The nightly retraining: every project with new labels since its last training."""
    started = []
    for project in Project.objects.all():
        if _new_labels_since_last_training(project=project) > 0:
            try:
                started.append(training_run_start(project=project, trigger=TrainingRun.Trigger.SCHEDULE))
            except ApplicationError:
                continue
    return started


def training_run_retry(*, run: TrainingRun, actor=None) -> TrainingRun:
    if run.status != TrainingRun.Status.FAILED:
        raise ApplicationError("Only a failed training can be retried.", code="not_failed", status=409)
    return training_run_start(project=run.project, trigger=run.trigger, retry_of=run, actor=actor)


def detector_learns_again(*, studies: list[dict], has_champion: bool) -> bool:
    """Whether a training teaches the detector again rather than reusing the champion's: when its
    targets are whole, a reader's box at every level or no reader's box or corrected position
    anywhere (the finder then places every level, and each new study teaches it more). With some
    levels placed by readers and others not, the champion's detector is reused."""

    def reader_placed(study: dict) -> bool:
        return bool(study["boxes"]) or any(src == "reader" for _, src in study["positions"].values())

    return (
        not has_champion
        or all(len(s["boxes"]) == len(LEVELS) for s in studies)
        or not any(reader_placed(s) for s in studies)
    )


def _training_studies(*, project: Project) -> list[dict]:
    """Per read CT study of the training pool: its files, reference grades, boxes and the level
    positions readers corrected (levels with neither are placed by the finder inside ml)."""
    labels = ReferenceLabel.objects.filter(case__project=project, frozen=False).select_related("case__pair")
    by_study: dict[int, dict] = defaultdict(lambda: {"grades": {}, "boxes": {}})
    for label in labels:
        study = by_study[label.case.pair.ct_study_id]
        study["grades"][label.level] = label.grade
        if label.box:
            study["boxes"][label.level] = label.box
    files = defaultdict(list)
    for study_id, path in Instance.objects.filter(series__study_id__in=by_study).values_list(
        "series__study_id", "file"
    ):
        files[study_id].append(str(Path(settings.MEDIA_ROOT) / path))
    champion = champion_get(project=project)
    positions = level_positions_for_training(
        study_ids=list(by_study), model_version=champion.label if champion else ""
    )
    canal_ap = canal_ap_for_training(study_ids=list(by_study))
    return [
        {
            "key": f"study-{sid}",
            "ct_files": sorted(files[sid]),
            "positions": positions.get(sid, {}),
            "canal_ap_mm": canal_ap.get(sid, {}),
            **v,
        }
        for sid, v in sorted(by_study.items())
    ]


class _Progress:
    """The ml progress callback: keeps the run's progress and heartbeat, a write every few seconds."""

    def __init__(self, run: TrainingRun, every_s: float = 2.0) -> None:
        self.run, self.every_s, self.last = run, every_s, 0.0

    def __call__(self, info: dict) -> None:
        stage = info.get("stage", "")
        state = dict(self.run.progress)
        if stage in ("detector_epoch", "classifier_epoch"):
            kind = stage.split("_")[0]
            state.update(
                stage=kind,
                epoch=info.get("epoch"),
                epochs=info.get("epochs"),
                loss=info.get("loss"),
                history=[*state.get("history", []), {**info, "stage": kind}][-200:],
            )
        elif stage == "load":
            state.update(stage="load", done=info.get("done"), total=info.get("total"))
        else:
            state.update(stage=stage or state.get("stage"), step_loss=info.get("loss"))
        state = ml_bridge.json_safe(state)  # a NaN from ml would make the row invalid JSON
        self.run.progress = state
        now = time.monotonic()
        if now - self.last >= self.every_s or stage.endswith("_epoch"):
            self.last = now
            TrainingRun.objects.filter(pk=self.run.pk).update(progress=state, heartbeat_at=timezone.now())


def training_run_execute(*, run_id: int, worker: str = "") -> TrainingRun:
    """Train, register the version, then let the gate decide; any failure leaves it failed."""
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=worker,
    )
    run = TrainingRun.objects.select_related("project").get(pk=run_id)
    if not claimed:
        logger.warning("training run %s is %s, not queued: skipped", run_id, run.status)
        return run
    project = run.project
    with transaction.atomic():
        number = model_version_number_next(project=project)
        version = ModelVersion.objects.create(
            project=project, number=number, status=ModelVersion.Status.TRAINING
        )
        run.model_version = version
        run.save(update_fields=["model_version"])
    try:
        studies = _training_studies(project=project)
        if len(studies) < MIN_TRAINING_STUDIES:
            raise ApplicationError(
                f"Training needs at least {MIN_TRAINING_STUDIES} read studies outside the reference set; "
                f"there are {len(studies)}.",
                code="too_few_labels",
            )
        champion = project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
        all_boxes = detector_learns_again(studies=studies, has_champion=champion is not None)
        progress = _Progress(run)
        out = Path(settings.MODELS_DIR) / project.slug / f"v{number}"
        result = ml_bridge.train_on_studies(
            studies=studies,
            out=str(out),
            preset_name=project.training_preset,
            seed=number,
            detector_checkpoint=None if all_boxes else champion.checkpoint,
            init_from=champion.checkpoint if champion else None,
            progress=progress,
        )
        summary = ml_bridge.checkpoint_summary(checkpoint=result["checkpoint"])
        with transaction.atomic():
            version.checkpoint, version.config, version.metrics = (
                result["checkpoint"],
                summary["config"],
                summary["metrics"],
            )
            version.training_snapshot = {
                "labels": sum(len(s["grades"]) for s in studies),
                "studies": [s["key"] for s in studies],
                "grades": {s["key"]: s["grades"] for s in studies},  # the reference labels exactly as used
                "trained_at": timezone.now().isoformat(),
                "detector_reused": not all_boxes,
                "roi_sources": result.get("roi_sources", {}),  # reader box / position / finder, per label
                "warm_start": champion.label if champion else None,
            }
            version.status = ModelVersion.Status.CHALLENGER
            version.save()
            run.progress = {**run.progress, "stage": "gate"}
            run.save(update_fields=["progress"])
    except ApplicationError as exc:
        logger.warning("training run %s failed: %s", run_id, exc.message)
        training_run_fail(run=run, error=exc.message)
        return run
    except Exception as exc:
        logger.exception("training run %s failed", run_id)
        training_run_fail(run=run, error=f"{type(exc).__name__}: {exc}")
        return run
    try:
        model_version_gate(version=version)
    except Exception as exc:  # the trained challenger stays; an admin can evaluate and promote it by hand
        logger.exception("the gate failed on %s", version)
        ModelVersion.objects.filter(pk=version.pk).update(
            metrics={**version.metrics, "gate": {"promoted": False, "reason": f"gate failed: {exc}"}}
        )
    run.status, run.finished_at = TrainingRun.Status.SUCCEEDED, timezone.now()
    run.progress = {**run.progress, "stage": "done"}
    run.save(update_fields=["status", "finished_at", "progress"])
    return run


def training_run_fail(*, run: TrainingRun, error: str) -> None:
    """The run and its unfinished version end as failed; a champion is never touched."""
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED, error=error, finished_at=timezone.now()
        )
        if run.model_version_id:
            ModelVersion.objects.filter(pk=run.model_version_id, status=ModelVersion.Status.TRAINING).update(
                status=ModelVersion.Status.FAILED, error=error
            )
    run.refresh_from_db()


def training_runs_reap(*, worker: str | None = None, stale_after_s: float | None = None) -> int:
    """Fail runs whose worker died: those of a (re)starting worker, and those silent for too long."""
    stale_after_s = settings.TRAINING_STALE_AFTER_S if stale_after_s is None else stale_after_s
    dead = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    found = list(dead.filter(worker=worker)) if worker else []
    found += list(dead.filter(heartbeat_at__lt=timezone.now() - timedelta(seconds=stale_after_s)))
    for run in {r.pk: r for r in found}.values():
        training_run_fail(run=run, error=f"The worker {run.worker or '?'} stopped during training.")
    return len({r.pk for r in found})


def training_runs_resend_lost(*, resend_after_s: float | None = None) -> int:
    """Send the task of runs still queued long after it was sent (or made) once more.

    A broker that restarts without persistence loses queued messages, and a run left queued
    blocks its project's trainings for good. Sending twice is safe: a worker starts a run only
    while it is queued (training_run_execute claims it atomically) and skips it otherwise.
    """
    resend_after_s = settings.TRAINING_RESEND_AFTER_S if resend_after_s is None else resend_after_s
    cutoff = timezone.now() - timedelta(seconds=resend_after_s)
    lost = TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).filter(
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)
    )
    resent = 0
    for run in lost:
        logger.warning(
            "training run %s queued since %s: sending its task again", run.pk, run.sent_at or run.created_at
        )
        resent += _training_run_send(run=run)
    return resent
