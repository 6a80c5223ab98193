"""Every search filter in one GIN-indexed tag array, with the owner's region kept on the patent.

The owner's region is copied onto the patent by triggers, so every way of writing a patent
(the ORM, the import's COPY, the admin, raw SQL) and every change of an organisation's region
keeps it right. PostgreSQL computes generated columns after BEFORE triggers, so search_tags
always sees the region the trigger set.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

import marketplace.models.patents

TRIGGERS = """
CREATE FUNCTION marketplace_patent_owner_region() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_region := COALESCE(
        (SELECT region_id FROM marketplace_organisation WHERE id = NEW.owner_id), '');
    RETURN NEW;
END $$;

CREATE TRIGGER patent_owner_region
BEFORE INSERT OR UPDATE OF owner_id, owner_region ON marketplace_patent
FOR EACH ROW EXECUTE FUNCTION marketplace_patent_owner_region();

CREATE FUNCTION marketplace_organisation_region() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE marketplace_patent SET owner_region = NEW.region_id
    WHERE owner_id = NEW.id AND owner_region IS DISTINCT FROM NEW.region_id;
    RETURN NULL;
END $$;

CREATE TRIGGER organisation_region
AFTER UPDATE OF region_id ON marketplace_organisation
FOR EACH ROW WHEN (OLD.region_id IS DISTINCT FROM NEW.region_id)
EXECUTE FUNCTION marketplace_organisation_region();

UPDATE marketplace_patent AS patent SET owner_region = organisation.region_id
FROM marketplace_organisation AS organisation WHERE organisation.id = patent.owner_id;
"""

DROP_TRIGGERS = """
DROP TRIGGER organisation_region ON marketplace_organisation;
DROP FUNCTION marketplace_organisation_region();
DROP TRIGGER patent_owner_region ON marketplace_patent;
DROP FUNCTION marketplace_patent_owner_region();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0006_patent_listing_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="patent",
            name="owner_region",
            field=models.CharField(default="", editable=False, max_length=6),
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        migrations.AddField(
            model_name="patent",
            name="search_tags",
            field=models.GeneratedField(
                db_persist=True,
                expression=marketplace.models.patents._SearchTags(),
                output_field=django.contrib.postgres.fields.ArrayField(
                    base_field=models.TextField(), size=None
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="patent",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_tags"], name="patent_search_tags"
            ),
        ),
    ]
