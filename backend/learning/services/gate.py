"""The gate: a challenger is judged on the frozen reference set against the champion."""

from django.db import transaction

from backend.imaging.models import Study
from backend.learning import ml_bridge
from backend.learning.models import LevelPrediction, ModelVersion, ReferenceLabel
from backend.learning.services.registry import model_version_promote, study_preannotate

GRADES = [0, 1, 2, 3]


def _frozen_labels(*, version: ModelVersion) -> dict[tuple[int, str], int]:
    rows = ReferenceLabel.objects.filter(case__project=version.project, frozen=True).values_list(
        "case__pair__ct_study_id", "level", "grade"
    )
    return {(study, level): grade for study, level, grade in rows}


def reference_set_evaluate(*, version: ModelVersion) -> dict:
    """The version's agreement with the frozen reference labels (predicting studies it has not read)."""
    labels = _frozen_labels(version=version)
    studies = {study for study, _ in labels}
    have = set(
        LevelPrediction.objects.filter(model_version=version, study_id__in=studies).values_list(
            "study_id", flat=True
        )
    )
    for study_id in sorted(studies - have):
        study_preannotate(study=Study.objects.get(pk=study_id), version=version)
    predicted = {
        (s, lv): g
        for s, lv, g in LevelPrediction.objects.filter(
            model_version=version, study_id__in=studies
        ).values_list("study_id", "level", "grade")
    }
    keys = sorted(k for k in labels if k in predicted)
    if not keys:
        return {"n": 0}
    truth, guess, groups = [labels[k] for k in keys], [predicted[k] for k in keys], [k[0] for k in keys]
    qwk, lo, hi = ml_bridge.agreement(a=truth, b=guess, labels=GRADES, weights="quadratic", groups=groups)
    binary = ml_bridge.agreement(
        a=[int(g >= 2) for g in truth],
        b=[int(g >= 2) for g in guess],
        labels=[0, 1],
        weights=None,
        groups=groups,
        n_boot=0,
    )
    confusion = [[0] * 4 for _ in range(4)]
    for t, p in zip(truth, guess, strict=True):
        confusion[t][p] += 1
    return ml_bridge.json_safe(
        {
            "n": len(keys),
            "studies": len({k[0] for k in keys}),
            "kappa_quadratic": round(qwk, 4),
            "kappa_quadratic_ci95": [round(lo, 4), round(hi, 4)],
            "accuracy": round(sum(t == p for t, p in zip(truth, guess, strict=True)) / len(keys), 4),
            "binary_kappa": round(binary[0], 4),
            "confusion_matrix": confusion,
        }
    )


def model_version_gate(*, version: ModelVersion) -> dict:
    """Promote the challenger unless its reference kappa trails the champion's by more than the margin."""
    project = version.project
    champion = project.model_versions.filter(status=ModelVersion.Status.CHAMPION).first()
    mine = reference_set_evaluate(version=version)
    decision = {"challenger": mine, "margin": project.gate_margin}
    if champion is None:
        decision.update(promoted=True, reason="no champion yet")
    elif mine["n"] == 0:
        decision.update(promoted=False, reason="no frozen reference labels to judge on: promote by hand")
    else:
        theirs = reference_set_evaluate(version=champion)
        decision["champion"] = {"label": champion.label, **theirs}
        promoted = mine["kappa_quadratic"] >= theirs["kappa_quadratic"] - project.gate_margin
        decision.update(
            promoted=promoted,
            reason=f"reference kappa {mine['kappa_quadratic']:.3f} vs champion {theirs['kappa_quadratic']:.3f}"
            f" (margin {project.gate_margin:g})",
        )
    with transaction.atomic():
        version.refresh_from_db()
        version.metrics = {
            **version.metrics,
            "reference": mine,
            "gate": {k: v for k, v in decision.items() if k != "challenger"},
        }
        version.save(update_fields=["metrics"])
        if decision["promoted"]:
            model_version_promote(version=version)
    return decision
