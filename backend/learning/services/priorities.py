"""Active learning: which unread case each reader gets next."""

from collections import defaultdict

from backend.common.hashing import stable_unit
from backend.learning import ml_bridge
from backend.learning.models import LevelPrediction, ModelVersion
from backend.projects.models import AcquisitionStrategy, Project
from backend.reading.models import Assignment, Case
from backend.reading.services import REFERENCE_PRIORITY


def _uncertainty(strategy: str, predictions: list[LevelPrediction]) -> float:
    """A study's priority: the mean of its levels' uncertainty under the project's strategy."""
    if strategy == AcquisitionStrategy.MARGIN:
        scores = ml_bridge.margin_score(probabilities=[p.probabilities for p in predictions])
    elif strategy == AcquisitionStrategy.BALD and all(p.mutual_information is not None for p in predictions):
        scores = [p.mutual_information for p in predictions]
    else:  # entropy, and BALD on predictions made without MC dropout
        scores = [p.entropy for p in predictions]
    return float(sum(scores) / len(scores))


def case_priorities_update(*, project: Project) -> int:
    """Re-rank the unread cases from the champion's predictions (random without a champion)."""
    champion = project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
    read = Assignment.objects.filter(case__project=project, status=Assignment.Status.SUBMITTED).values("case")
    cases = list(Case.objects.filter(project=project).exclude(pk__in=read).select_related("pair__ct_study"))
    predictions: dict[int, list[LevelPrediction]] = defaultdict(list)
    if champion is not None and project.acquisition_strategy != AcquisitionStrategy.RANDOM:
        for p in LevelPrediction.objects.filter(
            model_version=champion, study_id__in=[c.pair.ct_study_id for c in cases]
        ).only("study_id", "probabilities", "entropy", "mutual_information"):
            predictions[p.study_id].append(p)
    for case in cases:
        uid = case.pair.ct_study.study_uid
        random = stable_unit(project.slug, uid, "random")
        if case.in_reference_set:
            case.priority = REFERENCE_PRIORITY + random
        elif predictions.get(case.pair.ct_study_id):
            case.priority = 1.0 + _uncertainty(
                project.acquisition_strategy, predictions[case.pair.ct_study_id]
            )
        else:  # random strategy, or not yet pre-annotated: behind the scored ones
            case.priority = random
    Case.objects.bulk_update(cases, ["priority"], batch_size=500)
    return len(cases)
