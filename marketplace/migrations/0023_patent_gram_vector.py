"""The search's bigram channel: a patent's title and abstract bigrams and their stripped vector,
GIN-indexed with the filter tags. Existing patents get their bigrams from
`manage.py resegment_patents` (run it once after this migration); until then they are found by
their words alone."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

import marketplace.models.patents


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0027_labels_for_kinds_saved_searches_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="patent",
            name="gram_tokens",
            field=models.TextField(
                default="", editable=False, verbose_name="title and abstract bigrams"
            ),
        ),
        migrations.AddField(
            model_name="patent",
            name="gram_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=marketplace.models.patents._Strip(
                    marketplace.models.patents._ToTsvector(
                        models.Value("simple", output_field=models.CharField()),
                        models.F("gram_tokens"),
                    )
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
                verbose_name="bigram vector",
            ),
        ),
        migrations.AddIndex(
            model_name="patent",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["gram_vector", "search_tags"], name="patent_gram_search"
            ),
        ),
    ]
