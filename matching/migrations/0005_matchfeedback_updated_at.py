"""A verdict changed in place (update_or_create) now moves MatchFeedback.updated_at, which the
worker's demand snapshot watches to re-read only the SMEs that changed."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("matching", "0004_list_floor")]

    operations = [
        migrations.AddField(
            model_name="matchfeedback",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
