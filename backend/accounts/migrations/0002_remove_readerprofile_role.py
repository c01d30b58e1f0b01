from django.db import migrations


def platform_admins_get_their_role_back(apps, schema_editor):
    ReaderProfile = apps.get_model("accounts", "ReaderProfile")
    ReaderProfile.objects.filter(user__is_superuser=True).update(role="admin")


class Migration(migrations.Migration):
    """The role is per project now (projects.Membership.role), copied there by projects 0003 first."""

    dependencies = [
        ("accounts", "0001_initial"),
        ("projects", "0003_membership_role"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, platform_admins_get_their_role_back),
        migrations.RemoveField(model_name="readerprofile", name="role"),
    ]
