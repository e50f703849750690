"""The two roles: Analyst (view everything, re-push) and Admin (also configure, in Django admin)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ANALYST = "Analyst"
ADMIN = "Admin"
VIEWED = ["organization", "securityevent", "syncrun", "incident", "promotionattempt", "threatresponseaccount",
          "webexroom", "eventhourlycount"]  # fmt: skip
CONFIGURED = ["organization", "threatresponseaccount", "webexroom"]


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the groups need them now.
    app_config = apps.get_app_config("sync")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    analyst_codenames = [f"view_{model}" for model in VIEWED] + ["repush_securityevent"]
    admin_codenames = analyst_codenames + [
        f"{action}_{model}" for model in CONFIGURED for action in ("add", "change", "delete")
    ]
    for name, codenames in ((ANALYST, analyst_codenames), (ADMIN, admin_codenames)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="sync", codename__in=codenames))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[ANALYST, ADMIN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0003_event_hourly_counts"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
