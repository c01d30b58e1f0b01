"""The model's suggestions the reading view offers, from whichever app keeps models.

Reading sits below learning (the import layers), so it cannot ask learning itself: learning
registers its selectors here when it starts (LearningConfig.ready). Without a provider a case
simply has no suggestion, as before any model exists.
"""

from collections.abc import Callable

NO_SUGGESTIONS = {"model_version": None, "levels": [], "message": "No model suggestion yet."}

_providers: dict[str, Callable] = {}


def suggestions_provider_register(
    *, study_suggestions: Callable, suggestion_label: Callable, champion_label: Callable
) -> None:
    """study_suggestions(project=, study_id=) -> {"model_version", "levels", "message"};
    suggestion_label(project=, study_id=, level=) -> the version whose suggestion is offered, or "";
    champion_label(project=) -> the project's current model (whose level positions are shown), or ""."""
    _providers.update(
        study_suggestions=study_suggestions, suggestion_label=suggestion_label, champion_label=champion_label
    )


def study_suggestions(*, project, study_id: int) -> dict:
    provider = _providers.get("study_suggestions")
    return provider(project=project, study_id=study_id) if provider else dict(NO_SUGGESTIONS)


def suggestion_label(*, project, study_id: int, level: str) -> str:
    provider = _providers.get("suggestion_label")
    return provider(project=project, study_id=study_id, level=level) if provider else ""


def champion_label(*, project) -> str:
    provider = _providers.get("champion_label")
    return provider(project=project) if provider else ""
