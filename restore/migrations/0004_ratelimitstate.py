from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0003_destination_check_blank"),
    ]

    operations = [
        migrations.CreateModel(
            name="RateLimitState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=200, unique=True)),
                ("state", models.JSONField(default=dict)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
