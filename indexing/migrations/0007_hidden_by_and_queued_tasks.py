"""Why a crop is hidden (Crop.hidden_by), kept in step with is_active by a trigger; queued work coalesced."""

from django.db import migrations, models

# is_active stays the one visibility column; hidden_by says which path turned it off, so only
# that path turns it on again (indexing.curation). The trigger keeps every write consistent,
# whoever makes it (COPY, a bulk UPDATE, the admin, SQL by hand): an active crop has no reason,
# and an inactive one without a reason counts as a curator's (no other path ever shows it).
SYNC_HIDDEN_BY = """
CREATE OR REPLACE FUNCTION indexing_crop_sync_hidden_by() RETURNS trigger AS $$
BEGIN
    IF NEW.is_active THEN
        NEW.hidden_by := '';
    ELSIF NEW.hidden_by IS NULL OR NEW.hidden_by = '' THEN
        NEW.hidden_by := 'curator';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER indexing_crop_hidden_by BEFORE INSERT OR UPDATE OF is_active, hidden_by ON indexing_crop
    FOR EACH ROW EXECUTE FUNCTION indexing_crop_sync_hidden_by();
"""
UNSYNC_HIDDEN_BY = """
DROP TRIGGER IF EXISTS indexing_crop_hidden_by ON indexing_crop;
DROP FUNCTION IF EXISTS indexing_crop_sync_hidden_by();
"""
# Crops hidden before this migration: those of a photo that lost a "keep one" were hidden by
# the review (the old code could not tell a curator's hide there apart); the rest by a person.
BACKFILL = """
UPDATE indexing_crop c SET hidden_by = 'duplicate'
FROM indexing_duplicatemember m JOIN indexing_duplicategroup g ON g.id = m.group_id
WHERE c.image_id = m.image_id AND NOT c.is_active AND g.kept_id IS NOT NULL AND g.kept_id <> m.image_id;
UPDATE indexing_crop SET hidden_by = 'curator' WHERE NOT is_active AND hidden_by = '';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("indexing", "0006_model_changes"),
    ]

    operations = [
        migrations.AddField(
            model_name="crop",
            name="hidden_by",
            field=models.CharField(
                blank=True,
                choices=[("curator", "a curator"), ("duplicate", "a duplicate review")],
                db_default="",
                default="",
                editable=False,
                max_length=10,
            ),
        ),
        migrations.RunSQL(SYNC_HIDDEN_BY, UNSYNC_HIDDEN_BY),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.CreateModel(
            name="QueuedTask",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=40)),
                ("target", models.BigIntegerField(default=0)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("kind", "target"), name="queued_task_once_per_target")],
            },
        ),
    ]
