from backend.learning.models import LevelPrediction, ModelVersion
from backend.projects.models import Project


def champion_get(*, project: Project) -> ModelVersion | None:
    return project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()


def champion_label(*, project: Project) -> str:
    champion = champion_get(project=project)
    return champion.label if champion else ""


def study_suggestions(*, project: Project, study_id: int) -> dict:
    """The champion's per-level suggestions for a CT study, as the reading view shows them."""
    champion = champion_get(project=project)
    if champion is None:
        return {"model_version": None, "levels": [], "message": "No model suggestion yet."}
    predictions = LevelPrediction.objects.filter(model_version=champion, study_id=study_id).order_by("level")
    levels = [
        {"level": p.level, "grade": p.grade, "confidence": round(max(p.probabilities), 4), "box": p.box,
         "probabilities": p.probabilities, "binary_probability": p.binary_probability}
        for p in predictions
    ]  # fmt: skip
    message = "" if levels else "The model has not read this study yet."
    return {"model_version": champion.label, "levels": levels, "message": message}
