"""Dead-letter items of a rolled-back restore are closed as "rolled back": a retry would write back
part of what the rollback undid. Items of restores rolled back before this status existed are
closed here too."""

from django.db import migrations, models


def close_rolled_back(apps, schema_editor):
    session = apps.get_model("restore", "RestoreSession")
    item = apps.get_model("restore", "DeadLetterItem")
    rolled_back = session.objects.filter(kind="rollback", dry_run=False).values("rollback_of_id")
    item.objects.filter(status="open", session_id__in=rolled_back).update(
        status="rolled_back", resolution_note="its restore was rolled back"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0009_retried_attempts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deadletteritem",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("retrying", "Retrying"),
                    ("resolved", "Resolved"),
                    ("dismissed", "Dismissed"),
                    ("rolled_back", "rolled back"),
                ],
                default="open",
                max_length=20,
            ),
        ),
        migrations.RunPython(close_rolled_back, migrations.RunPython.noop),
    ]
