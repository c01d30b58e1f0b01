"""Writes of the learning app, by topic; import from here."""

from backend.learning.services.agreement import kappa_snapshot_maybe, kappa_snapshot_take
from backend.learning.services.consensus import adjudication_resolve, consensus_grade, reference_labels_update
from backend.learning.services.gate import model_version_gate, reference_set_evaluate
from backend.learning.services.imports import model_version_import
from backend.learning.services.loop import (
    preannotation_cycle,
    project_labels_submitted,
    project_suggestions_refreshed,
)
from backend.learning.services.priorities import case_priorities_update
from backend.learning.services.registry import (
    model_version_number_next,
    model_version_promote,
    model_version_register,
    model_version_rollback,
    preannotation_requests_process,
    preannotation_wake,
    study_preannotate,
)
from backend.learning.services.training import (
    training_labels_count,
    training_run_execute,
    training_run_fail,
    training_run_maybe_start,
    training_run_retry,
    training_run_start,
    training_runs_reap,
    training_runs_resend_lost,
    training_runs_start_scheduled,
)

__all__ = [
    "adjudication_resolve",
    "case_priorities_update",
    "consensus_grade",
    "kappa_snapshot_maybe",
    "kappa_snapshot_take",
    "model_version_gate",
    "model_version_import",
    "model_version_number_next",
    "model_version_promote",
    "model_version_register",
    "model_version_rollback",
    "preannotation_cycle",
    "preannotation_requests_process",
    "preannotation_wake",
    "project_labels_submitted",
    "project_suggestions_refreshed",
    "reference_labels_update",
    "reference_set_evaluate",
    "study_preannotate",
    "training_labels_count",
    "training_run_execute",
    "training_run_fail",
    "training_run_maybe_start",
    "training_run_retry",
    "training_run_start",
    "training_runs_reap",
    "training_runs_resend_lost",
    "training_runs_start_scheduled",
]
