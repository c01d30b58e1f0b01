"""A case's history for its admins: every change to it, oldest first, from every app that keeps one
(the readers' annotations and submissions, level placements, adjudications)."""

from backend.learning.models import AdjudicationItem
from backend.reading.models import AnnotationEvent, Assignment, Case, LevelPosition

ANNOTATED = ("grade", "box", "note", "measurements")


def _changed(before: dict | None, after: dict) -> dict:
    """The annotation fields an event changed, each as [before, after]."""
    before = before or {}
    return {key: [before.get(key), after.get(key)] for key in ANNOTATED if before.get(key) != after.get(key)}


def _annotation_entries(case: Case) -> list[dict]:
    events = AnnotationEvent.objects.filter(annotation__assignment__case=case).select_related(
        "user", "annotation"
    )
    return [
        {
            "at": event.at,
            "kind": "annotation",
            "action": event.action,
            "actor": event.user.username if event.user else None,
            "level": event.annotation.level,
            "view": (event.after or {}).get("display", ""),
            "changes": _changed(event.before, event.after or {}),
        }
        for event in events
    ]


def _reading_entries(case: Case) -> list[dict]:
    entries = []
    for assignment in Assignment.objects.filter(case=case).select_related("reader"):
        reader = assignment.reader.username
        entries.append({"at": assignment.started_at, "kind": "reading", "action": "open", "actor": reader})
        if assignment.submitted_at:
            entries.append(
                {
                    "at": assignment.submitted_at,
                    "kind": "reading",
                    "action": "submit",
                    "actor": reader,
                    "changes": {"time_spent_s": [None, assignment.time_spent_s]},
                }
            )
    return entries


def _placement_entries(case: Case) -> list[dict]:
    studies = {case.pair.ct_study_id: "CT", case.pair.mr_study_id: "MR"}
    rows = LevelPosition.objects.filter(study_id__in=[s for s in studies if s]).select_related("author")
    entries = []
    for row in rows:
        if row.source == LevelPosition.Source.READER and row.case_id != case.pk:
            continue  # a correction made while reading another case of the same study
        actor = row.author.username if row.author else row.model_version or row.source
        entries.append(
            {
                "at": row.created_at,
                "kind": "level_position",
                "action": row.source,
                "actor": actor,
                "level": row.level,
                "view": studies[row.study_id],
                "changes": {"centre": [None, row.centre]},
            }
        )
    return entries


def _adjudication_entries(case: Case) -> list[dict]:
    entries = []
    for item in AdjudicationItem.objects.filter(case=case).select_related("resolved_by"):
        entries.append(
            {
                "at": item.created_at,
                "kind": "adjudication",
                "action": "open",
                "actor": None,
                "level": item.level,
                "changes": {"reason": [None, item.reason], "grades": [None, item.grades]},
            }
        )
        if item.resolved_at:
            entries.append(
                {
                    "at": item.resolved_at,
                    "kind": "adjudication",
                    "action": "resolve",
                    "actor": item.resolved_by.username if item.resolved_by else None,
                    "level": item.level,
                    "changes": {"grade": [None, item.resolved_grade], "note": [None, item.note]},
                }
            )
    return entries


def case_history(*, case: Case) -> list[dict]:
    """Who changed what, when, and from which view, oldest first."""
    entries = [
        *_annotation_entries(case),
        *_reading_entries(case),
        *_placement_entries(case),
        *_adjudication_entries(case),
    ]
    for entry in entries:
        entry.setdefault("level", None)
        entry.setdefault("view", "")
        entry.setdefault("changes", {})
    return sorted(entries, key=lambda e: (e["at"], e["kind"] != "reading"))
