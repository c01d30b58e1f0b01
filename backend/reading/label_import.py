"""Grades a team already has, imported into a project as submitted readings of named readers.

Two layouts are read, told apart by their columns:
- the `ml` real-cohort labels CSV: patient_id, level, grade, reader, reader_experience, and an
  optional box as x0, y0, x1, y1 (README: "A real cohort");
- the platform's own annotations export (`annotations.csv`): the same, with ct_study_uid, the
  box as box_x0 .. box_y1 and a note; so a project's labels round-trip through export and import.

Each row is one reader's grade of one level. A row that cannot be used (unknown patient or study,
a level or grade out of range, a reader who read that case in the platform) is reported with its
line number; the others are kept. Importing the same file again changes nothing. Imported levels
carry display "imported" and an "import" event, so their provenance is never mistaken for a read.
"""

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Experience, ReaderProfile
from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.projects.models import AuditAction, Project
from backend.projects.services import audit_record
from backend.reading.models import AnnotationEvent, Assignment, Case, LevelAnnotation
from backend.reading.signals import labels_imported

REQUIRED = ("patient_id", "level", "grade", "reader", "reader_experience")
MAX_ERRORS_LISTED = 200


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    readers_created: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append({"line": line, "message": message})

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rows - self.created - self.updated - self.unchanged,
            "readers_created": self.readers_created,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Label:
    line: int
    case: Case
    level: str
    grade: int
    box: list[float] | None
    note: str


def _box(row: dict) -> list[float] | None:
    for names in (("x0", "y0", "x1", "y1"), ("box_x0", "box_y0", "box_x1", "box_y1")):  # ml CSV, our export
        if all(row.get(k) not in (None, "") for k in names):
            value = [row[k] for k in names]
            break
    else:
        if not row.get("box"):
            return None
        value = json.loads(row["box"])
    box = [float(v) for v in value]
    if len(box) != 4 or not (0 <= box[0] < box[2] and 0 <= box[1] < box[3]) or max(box) > 1e5:
        raise ValueError("a box is [x0, y0, x1, y1] with x0 < x1 and y0 < y1, in reformat pixels")
    return box


def _cases_by_key(project: Project) -> tuple[dict[str, list[Case]], dict[str, Case]]:
    by_patient: dict[str, list[Case]] = defaultdict(list)
    by_study: dict[str, Case] = {}
    for case in project.cases.select_related("pair__patient", "pair__ct_study"):
        by_patient[case.pair.patient.patient_id].append(case)
        by_study[case.pair.ct_study.study_uid] = case
    return by_patient, by_study


def labels_import(*, project: Project, content: bytes, actor) -> dict:
    """Import a labels CSV into the project; returns the report (counts and per-line errors)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError("The labels file must be UTF-8 text (CSV).", code="bad_labels_file") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ApplicationError(
            f"The labels CSV lacks the column(s) {', '.join(missing)}; it needs {', '.join(REQUIRED)}.",
            code="bad_labels_file",
        )
    report = ImportReport()
    by_patient, by_study = _cases_by_key(project)
    grouped: dict[tuple[str, int], list[_Label]] = defaultdict(list)
    experience: dict[str, str] = {}
    for line, row in _rows(reader):
        report.rows += 1
        label = _parsed(row, line, report, by_patient, by_study)
        if label is None:
            continue
        name = row["reader"].strip()
        known = experience.setdefault(name, row["reader_experience"].strip())
        if known != row["reader_experience"].strip():
            report.error(line, f"reader {name!r} is {known} on an earlier line")
            continue
        grouped[(name, label.case.pk)].append(label)
    with transaction.atomic():
        readers = _readers(experience, report)
        for (name, _), labels in grouped.items():
            _import_reading(readers[name], labels, report)
        if report.created or report.updated:
            audit_record(
                project=project,
                actor=actor,
                action=AuditAction.LABELS_IMPORT,
                details={k: v for k, v in report.as_dict().items() if k != "errors"},
            )
            labels_imported.send(sender=Project, project=project)
    return report.as_dict()


def _rows(reader: csv.DictReader):
    line = 1
    try:
        for line, row in enumerate(reader, start=2):
            yield line, row
    except csv.Error as error:  # a NUL byte, a field over the csv module's limit
        raise ApplicationError(
            f"The labels CSV cannot be read after line {line}: {error}.", code="bad_labels_file"
        ) from None


def _parsed(row, line, report, by_patient, by_study) -> _Label | None:
    if any("\x00" in (value or "") for value in row.values() if isinstance(value, str)):
        report.error(line, "the row holds a NUL character")
        return None
    level, grade = (row.get("level") or "").strip(), (row.get("grade") or "").strip()
    if level not in LEVELS:
        report.error(line, f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
        return None
    if grade not in {"0", "1", "2", "3"}:
        report.error(line, f"grade must be 0-3, got {grade!r}")
        return None
    if not (row.get("reader") or "").strip() or len(row["reader"].strip()) > 150:
        report.error(line, "the reader's name is missing or too long")
        return None
    if (row.get("reader_experience") or "").strip() not in {Experience.JUNIOR, Experience.SENIOR}:
        report.error(
            line, f"reader_experience must be junior or senior, got {row.get('reader_experience')!r}"
        )
        return None
    study_uid, patient = (row.get("ct_study_uid") or "").strip(), (row.get("patient_id") or "").strip()
    if study_uid:
        case = by_study.get(study_uid)
        if case is None:
            report.error(line, f"no case of this project has the CT study {study_uid[:64]!r}")
            return None
    else:
        cases = by_patient.get(patient, [])
        if len(cases) != 1:
            why = "no case of this project" if not cases else f"{len(cases)} cases (give ct_study_uid)"
            report.error(line, f"patient {patient[:64]!r}: {why}")
            return None
        case = cases[0]
    try:
        box = _box(row)
    except (ValueError, TypeError) as error:
        report.error(line, f"bad box: {error}")
        return None
    return _Label(line, case, level, int(grade), box, (row.get("note") or "")[:2000])


def _readers(experience: dict[str, str], report: ImportReport) -> dict:
    """The named readers' accounts; one not known yet is made without a usable password (it only
    holds imported readings until an admin gives it one)."""
    users = {}
    model = get_user_model()
    for name, level in experience.items():
        user, created = model.objects.get_or_create(username=name)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            report.readers_created.append(name)
        ReaderProfile.objects.get_or_create(user=user, defaults={"experience": level})
        users[name] = user
    return users


def _import_reading(reader, labels: list[_Label], report: ImportReport) -> None:
    case = labels[0].case
    assignment, created = Assignment.objects.get_or_create(
        case=case,
        reader=reader,
        defaults={"status": Assignment.Status.SUBMITTED, "submitted_at": timezone.now()},
    )
    existing = {a.level: a for a in assignment.levels.all()}
    if not created and any(a.display != LevelAnnotation.Display.IMPORTED for a in existing.values()):
        for label in labels:
            report.error(
                label.line, f"{reader.username} read case {case.pk} in the platform; not overwritten"
            )
        return
    for label in labels:
        values = {"grade": label.grade, "box": label.box, "note": label.note}
        annotation = existing.get(label.level)
        if annotation is None:
            annotation = LevelAnnotation.objects.create(
                assignment=assignment, level=label.level, display=LevelAnnotation.Display.IMPORTED, **values
            )
            AnnotationEvent.objects.create(annotation=annotation, user=None, action="import", after=values)
            existing[label.level] = annotation
            report.created += 1
        elif all(getattr(annotation, k) == v for k, v in values.items()):
            report.unchanged += 1
        else:
            before = {k: getattr(annotation, k) for k in values}
            for k, v in values.items():
                setattr(annotation, k, v)
            annotation.version += 1
            annotation.save()
            AnnotationEvent.objects.create(
                annotation=annotation, user=None, action="import", before=before, after=values
            )
            report.updated += 1
    if assignment.status != Assignment.Status.SUBMITTED:
        assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, timezone.now()
        assignment.save(update_fields=["status", "submitted_at"])
