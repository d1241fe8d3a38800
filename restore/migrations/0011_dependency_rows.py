from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0009_retried_attempts"),
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
