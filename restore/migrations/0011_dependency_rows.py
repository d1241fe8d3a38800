from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0010_dlq_rolled_back_item_claims_dismissal"),
    ]

    operations = [
        migrations.AddField(
            model_name="restoreitemresult",
            name="added_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="restore.restoresession",
            ),
        ),
    ]
