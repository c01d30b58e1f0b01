"""Results back to the hospital: each submitted reading's DICOM SR sent to RESULTS_DESTINATION (a PACS,
by C-STORE or STOW-RS) when its case is final, or when an admin asks. Every push is a row an admin
sees (pending, retrying, sent, failed, with the peer's answer); the worker retries with backoff, and
a failed push is sent again by asking again: the SR's UIDs derive from the reading, so a PACS that
did get an earlier copy keeps one.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.common.tasks import task_send
from backend.exports.models import ResultPush
from backend.exports.selectors import reading_for_report
from backend.exports.structured_report import reading_structured_report, sr_uids
from backend.imaging.dicom.network import PacsError, Peer, datasets_send
from backend.learning.models import AdjudicationItem, ReferenceLabel
from backend.projects.models import AuditAction, Project
from backend.projects.services import audit_record
from backend.reading.models import Assignment, Case

PUSH_TASK = "exports.result_push"


def result_destination() -> Peer:
    if not settings.RESULTS_DESTINATION:
        raise ApplicationError(
            "No results destination is configured (RESULTS_DESTINATION).", code="no_destination", status=409
        )
    try:
        return Peer.parse(settings.RESULTS_DESTINATION)
    except ValueError as exc:
        raise ApplicationError(f"RESULTS_DESTINATION: {exc}", code="bad_destination", status=409) from exc


def cases_final_unpushed(*, project: Project, destination: str):
    """Cases with a reference label at every level, no open adjudication, and nothing sent (or on its
    way) to this destination yet."""
    pushed = ResultPush.objects.filter(case=OuterRef("pk"), destination=destination).exclude(
        status=ResultPush.Status.FAILED
    )
    open_items = AdjudicationItem.objects.filter(case=OuterRef("pk"), status=AdjudicationItem.Status.OPEN)
    labelled = ReferenceLabel.objects.filter(case__project=project).values("case")
    return (
        Case.objects.filter(project=project, pk__in=labelled)
        .annotate(labels=Count("reference_labels", distinct=True))
        .filter(labels=6)
        .exclude(Exists(pushed))
        .exclude(Exists(open_items))
    )


@transaction.atomic
def result_push_queue(*, case: Case, trigger: str, actor=None) -> list[ResultPush]:
    """A push per submitted reading of the case, sent by a worker after commit."""
    destination = result_destination()
    readings = Assignment.objects.filter(case=case, status=Assignment.Status.SUBMITTED).order_by("pk")
    if not readings.exists():
        raise ApplicationError(
            f"Case {case.pk} has no submitted reading to send.", code="no_reading", status=409
        )
    pushes = [
        ResultPush.objects.create(case=case, assignment=a, destination=str(destination), trigger=trigger)
        for a in readings
    ]
    if actor is not None:
        audit_record(
            project=case.project,
            actor=actor,
            action=AuditAction.RESULTS_PUSH,
            target=case,
            details={"destination": str(destination), "readings": len(pushes)},
        )
    for push in pushes:
        transaction.on_commit(lambda pk=push.pk: task_send(PUSH_TASK, pk))
    return pushes


def result_push_finalised(*, project: Project) -> int:
    """Queue the pushes of the project's cases that became final; nothing without a destination."""
    if not settings.RESULTS_DESTINATION:
        return 0
    cases = list(cases_final_unpushed(project=project, destination=str(result_destination())))
    for case in cases:
        result_push_queue(case=case, trigger=ResultPush.Trigger.FINALISED)
    return len(cases)


def result_push_attempt(*, push_id: int) -> ResultPush:
    """Send one push's SR; PacsError (after recording it) when the destination did not take it."""
    push = ResultPush.objects.select_related("assignment__reader", "case").get(pk=push_id)
    if push.status == ResultPush.Status.SENT:
        return push
    reading = reading_for_report(case_id=push.case_id, reader=push.assignment.reader.username)
    report = reading_structured_report(reading=reading)
    push.attempts += 1
    push.sop_uid = sr_uids(reading=reading)[1]
    try:
        datasets_send(peer=Peer.parse(push.destination), datasets=[report], calling_ae=settings.DICOM_SCP_AE)
    except PacsError as exc:
        push.status, push.last_error = ResultPush.Status.RETRYING, str(exc)[:2000]
        push.save(update_fields=["attempts", "sop_uid", "status", "last_error", "updated_at"])
        raise
    push.status, push.last_error, push.sent_at = ResultPush.Status.SENT, "", timezone.now()
    push.save(update_fields=["attempts", "sop_uid", "status", "last_error", "sent_at", "updated_at"])
    return push


def result_push_give_up(*, push_id: int) -> None:
    ResultPush.objects.filter(pk=push_id).exclude(status=ResultPush.Status.SENT).update(
        status=ResultPush.Status.FAILED, updated_at=timezone.now()
    )
