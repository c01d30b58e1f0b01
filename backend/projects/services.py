from typing import Any

from django.db import models, transaction
from django.utils.text import slugify

from backend.accounts.models import Role
from backend.common.exceptions import ApplicationError
from backend.projects.models import AcquisitionStrategy, AuditAction, AuditEntry, Membership, Project
from backend.projects.signals import membership_changed


@transaction.atomic
def project_create(
    *,
    name: str,
    slug: str = "",
    acquisition_strategy: str = AcquisitionStrategy.RANDOM,
    blinded_share: float = 0.1,
    deidentify: bool = False,
    reference_share: float = 0.2,
    retrain_threshold: int = 60,
    gate_margin: float = 0.02,
    training_preset: str = "default",
    kappa_every: int = 10,
) -> Project:
    slug = slug or slugify(name)
    if Project.objects.filter(slug=slug).exists():
        raise ApplicationError(f"A project {slug!r} exists already.", code="project_exists", status=409)
    for name_, share in (("blinded_share", blinded_share), ("reference_share", reference_share)):
        if not 0 <= share <= 1:
            raise ApplicationError(f"{name_} must lie between 0 and 1.", code=f"invalid_{name_}")
    if retrain_threshold < 1 or kappa_every < 1:
        raise ApplicationError(
            "retrain_threshold and kappa_every must be at least 1.", code="invalid_setting"
        )
    if acquisition_strategy not in AcquisitionStrategy.values:
        raise ApplicationError(
            f"Unknown acquisition strategy {acquisition_strategy!r}.", code="invalid_strategy"
        )
    return Project.objects.create(
        name=name,
        slug=slug,
        acquisition_strategy=acquisition_strategy,
        blinded_share=blinded_share,
        deidentify=deidentify,
        reference_share=reference_share,
        retrain_threshold=retrain_threshold,
        gate_margin=gate_margin,
        training_preset=training_preset,
        kappa_every=kappa_every,
    )


def audit_record(
    *,
    actor,
    action: str,
    project: Project,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """One audit entry: `actor` (None, or an anonymous user: the platform) did `action` in the project,
    on `target`. The one place every audited action of every app is written."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        project=project,
        project_slug=project.slug,
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        details=details or {},
    )


def _role_valid(role: str) -> None:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="invalid_role")


@transaction.atomic
def project_member_add(*, project: Project, user, role: str | None = None, actor=None) -> Membership:
    """Idempotent: the user's membership of the project. A new member gets `role` (reader by
    default); an existing one keeps theirs unless `role` is given."""
    _role_valid(role or Role.READER)
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role or Role.READER}
    )
    if created:
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_ADD,
            project=project,
            target=membership,
            details={"user": user.get_username(), "role": membership.role},
        )
        membership_changed.send(sender=Membership, project=project, user=user)
    elif role is not None and membership.role != role:
        return project_member_role_set(membership=membership, role=role, actor=actor)
    return membership


@transaction.atomic
def project_member_role_set(*, membership: Membership, role: str, actor=None) -> Membership:
    _role_valid(role)
    membership = (
        Membership.objects.select_for_update().select_related("project", "user").get(pk=membership.pk)
    )
    if membership.role != role:
        before, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_ROLE,
            project=membership.project,
            target=membership,
            details={"user": membership.user.get_username(), "from": before, "to": role},
        )
        membership_changed.send(sender=Membership, project=membership.project, user=membership.user)
    return membership


@transaction.atomic
def project_member_remove(*, membership: Membership, actor=None) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.MEMBER_REMOVE,
        project=membership.project,
        target=membership,
        details={"user": membership.user.get_username(), "role": membership.role},
    )
    project, user = membership.project, membership.user
    membership.delete()
    membership_changed.send(sender=Membership, project=project, user=user)


def project_get_or_create(*, slug: str, name: str = "", **settings) -> Project:
    """The project of that slug; created with these settings when missing."""
    project = Project.objects.filter(slug=slug).first()
    return project or project_create(name=name or slug, slug=slug, **settings)
