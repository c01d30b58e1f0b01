"""Reads of the imaging app; every query a user makes goes through `study_queryset_for_user`."""

from django.db.models import Count, Q, QuerySet

from backend.accounts.models import Role
from backend.accounts.selectors import user_is_platform_admin
from backend.common.exceptions import ApplicationError
from backend.imaging.dicom.header import parse_dicom_date
from backend.imaging.models import IngestJob, Instance, Series, Study, StudyPair
from backend.projects.models import Project
from backend.projects.selectors import project_get_for_user, project_list_for_user


def study_queryset_for_user(*, user) -> QuerySet[Study]:
    """Platform admins see every study; anyone else the studies of their projects."""
    studies = Study.objects.select_related("patient")
    if user_is_platform_admin(user=user):
        return studies
    return studies.filter(projects__memberships__user=user).distinct()


def study_get(*, user, study_uid: str) -> Study:
    study = study_queryset_for_user(user=user).filter(study_uid=study_uid).first()
    if study is None:
        raise ApplicationError("No such study, or not in your projects.", code="not_found", status=404)
    return study


def series_get(*, user, study_uid: str, series_uid: str) -> Series:
    series = (
        Series.objects.filter(series_uid=series_uid, study__study_uid=study_uid)
        .select_related("study")
        .first()
    )
    if series is None or not study_queryset_for_user(user=user).filter(pk=series.study_id).exists():
        raise ApplicationError("No such series, or not in your projects.", code="not_found", status=404)
    return series


def instance_get(*, user, study_uid: str, series_uid: str, sop_uid: str) -> Instance:
    series = series_get(user=user, study_uid=study_uid, series_uid=series_uid)
    instance = series.instances.filter(sop_uid=sop_uid).first()
    if instance is None:
        raise ApplicationError("No such instance.", code="not_found", status=404)
    return instance


def study_search(*, user, filters: dict[str, str]) -> QuerySet[Study]:
    """QIDO-RS study search: PatientID, PatientName (wildcards * and ?), StudyDate (range a-b),
    StudyInstanceUID (list), AccessionNumber, ModalitiesInStudy."""
    studies = study_queryset_for_user(user=user).annotate(
        n_series=Count("series", distinct=True), n_instances=Count("series__instances", distinct=True)
    )
    if value := filters.get("PatientID"):
        studies = studies.filter(_wildcard("patient__patient_id", value))
    if value := filters.get("PatientName"):
        studies = studies.filter(_wildcard("patient__name", value))
    if value := filters.get("AccessionNumber"):
        studies = studies.filter(accession_number=value)
    if value := filters.get("StudyInstanceUID"):
        studies = studies.filter(study_uid__in=value.replace("\\", ",").split(","))
    if value := filters.get("ModalitiesInStudy"):
        studies = studies.filter(modality__in=value.replace("\\", ",").split(","))
    if value := filters.get("StudyDate"):
        studies = studies.filter(_date_range("study_date", value))
    return studies.order_by("study_date", "study_uid")


def _wildcard(field: str, value: str) -> Q:
    if "*" not in value and "?" not in value:
        return Q(**{field: value})
    regex = (
        "^"
        + "".join(
            ".*" if c == "*" else "." if c == "?" else ("\\" + c if not c.isalnum() else c) for c in value
        )
        + "$"
    )
    return Q(**{f"{field}__iregex": regex})


def _date_range(field: str, value: str) -> Q:
    if "-" in value:
        start, end = (parse_dicom_date(part) for part in value.split("-", 1))
        query = Q()
        if start:
            query &= Q(**{f"{field}__gte": start})
        if end:
            query &= Q(**{f"{field}__lte": end})
        return query
    return Q(**{field: parse_dicom_date(value)})


def pair_list_for_user(*, user) -> QuerySet[StudyPair]:
    visible = study_queryset_for_user(user=user).values("pk")
    return StudyPair.objects.filter(ct_study__in=visible).select_related("patient", "ct_study", "mr_study")


def pair_get_for_admin(*, user, pair_id: int) -> StudyPair:
    """A pair the user may change: its CT study lies only in projects they are an admin of (an
    admin of one project never changes what another project reads). 404 when they cannot see it."""
    pair = pair_list_for_user(user=user).filter(pk=pair_id).first()
    if pair is None:
        raise ApplicationError("No such pair.", code="not_found", status=404)
    admin_of = project_list_for_user(user=user, role=Role.ADMIN)
    if pair.ct_study.projects.exclude(pk__in=admin_of.values("pk")).exists():
        raise ApplicationError(
            "Only an admin of every project of this pair's CT study may change it.",
            code="permission_denied",
            status=403,
        )
    return pair


def upload_project_for_user(*, user, slug: str | None) -> Project | None:
    """The project an upload goes into: one the user is an admin of; none only for a platform admin."""
    if slug:
        return project_get_for_user(slug=slug, user=user, role=Role.ADMIN)
    if not user_is_platform_admin(user=user):
        raise ApplicationError(
            "Name the project (one you are an admin of) that the studies go into.", code="project_required"
        )
    return None


def ingest_job_get(*, user, job_id: int) -> IngestJob:
    """A platform admin sees every ingest job; anyone else their own and those of projects they run."""
    jobs = IngestJob.objects.all()
    if not user_is_platform_admin(user=user):
        admin_of = project_list_for_user(user=user, role=Role.ADMIN)
        jobs = jobs.filter(Q(created_by=user) | Q(project__in=admin_of))
    job = jobs.filter(pk=job_id).first()
    if job is None:
        raise ApplicationError("No such ingest job.", code="not_found", status=404)
    return job
