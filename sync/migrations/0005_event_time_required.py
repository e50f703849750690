"""Every event has a time: one that came without a valid ts gets the time it was fetched (parse_error says so)."""

from django.db import migrations, models
from django.db.models import F


def fill_missing_times(apps, schema_editor):
    apps.get_model("sync", "SecurityEvent").objects.filter(ts__isnull=True).update(ts=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("sync", "0004_analyst_and_admin_groups")]

    operations = [
        migrations.RunPython(fill_missing_times, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="securityevent",
            name="ts",
            field=models.DateTimeField(
                help_text="Detection time; for an event without a valid ts, when it was fetched (parse_error says so)."
            ),
        ),
    ]
