"""Dead-letter items of a rolled-back restore are closed as "rolled back" (a retry would write back
part of what the rollback undid), those of restores rolled back before this status existed too;
item claims keep two sessions writing into one destination off the same item; a dismissed item
names its dismissal, so an undo reopens exactly the items it still holds."""

import django.db.models.deletion
from django.db import migrations, models


def close_rolled_back(apps, schema_editor):
    session = apps.get_model("restore", "RestoreSession")
    item = apps.get_model("restore", "DeadLetterItem")
    rolled_back = session.objects.filter(kind="rollback", dry_run=False).values("rollback_of_id")
    item.objects.filter(status="open", session_id__in=rolled_back).update(
        status="rolled_back", resolution_note="its restore was rolled back"
    )


def link_dismissals(apps, schema_editor):
    """Each dismissed item names the latest dismissal that lists it with its note."""
    event = apps.get_model("restore", "AuditEvent")
    item = apps.get_model("restore", "DeadLetterItem")
    for e in event.objects.filter(action="dismiss").order_by("at", "id").iterator():
        ids = e.item_ids or []
        for start in range(0, len(ids), 500):
            item.objects.filter(
                pk__in=ids[start : start + 500], status="dismissed", resolution_note=e.note
            ).update(dismissal=e)


class Migration(migrations.Migration):

    dependencies = [
        ('restore', '0009_retried_attempts'),
    ]

    operations = [
        migrations.AddField(
            model_name='deadletteritem',
            name='dismissal',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='dismissed_items', to='restore.auditevent'),
        ),
        migrations.AlterField(
            model_name='deadletteritem',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('retrying', 'Retrying'), ('resolved', 'Resolved'), ('dismissed', 'Dismissed'), ('rolled_back', 'rolled back')], default='open', max_length=20),
        ),
        migrations.CreateModel(
            name='ItemClaim',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('content_type', models.PositiveSmallIntegerField(choices=[(1, 'dashboard'), (2, 'look'), (3, 'lookml model'), (4, 'explore'), (5, 'folder'), (6, 'board'), (7, 'user'), (8, 'group'), (9, 'role'), (10, 'permission set'), (11, 'model set'), (12, 'scheduled plan')])),
                ('source_id', models.CharField(max_length=255)),
                ('destination', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='restore.destination')),
                ('session', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='restore.restoresession')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('destination', 'content_type', 'source_id'), name='uniq_item_claim')],
            },
        ),
        migrations.RunPython(close_rolled_back, migrations.RunPython.noop),
        migrations.RunPython(link_dismissals, migrations.RunPython.noop),
    ]
