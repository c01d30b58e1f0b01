from django.db import migrations, models
from django.db.models import Q


def admins_keep_their_projects(apps, schema_editor):
    """Roles move from the user to the membership: whoever was an admin (profile role admin, or a
    superuser) becomes an admin of each project they are a member of."""
    Membership = apps.get_model("projects", "Membership")
    Membership.objects.filter(Q(user__reader_profile__role="admin") | Q(user__is_superuser=True)).update(
        role="admin"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("projects", "0002_project_kappa_every_project_reference_share_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="role",
            field=models.CharField(
                choices=[("reader", "Reader"), ("admin", "Admin")], default="reader", max_length=16
            ),
        ),
        migrations.RunPython(admins_keep_their_projects, migrations.RunPython.noop),
    ]
