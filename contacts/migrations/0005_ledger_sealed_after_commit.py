"""Consent events are appended unsealed and sealed into the hash chain after commit (see contacts/ledger.py).

Events chained before this migration were chained in id order, so their position is their id. The
append-only trigger comes back allowing one thing more: the sealer filling position, prev_hash and hash once.
"""

from django.conf import settings
from django.db import migrations, models

from smsconsent.db import append_only_trigger

TABLE, MESSAGE = "contacts_consentevent", "consent ledger is append-only"
SEALED_ONCE = ("position", "prev_hash", "hash")
refuse_changes, allow_changes = append_only_trigger(TABLE, MESSAGE)
refuse_all_but_sealing, _ = append_only_trigger(TABLE, MESSAGE, filled_once=SEALED_ONCE)


def positions_from_ids(apps, schema_editor):
    schema_editor.execute("UPDATE contacts_consentevent SET position = id WHERE position IS NULL")


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0004_staff_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(allow_changes, refuse_changes),
        migrations.AddField(
            model_name='consentevent',
            name='position',
            field=models.BigIntegerField(blank=True, help_text='Place in the hash chain.', null=True, unique=True),
        ),
        migrations.AlterField(
            model_name='consentevent',
            name='hash',
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name='consentevent',
            name='prev_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name='consentevent',
            index=models.Index(condition=models.Q(('position__isnull', True)), fields=['id'], name='consentevent_unsealed'),
        ),
        migrations.RunPython(positions_from_ids, migrations.RunPython.noop),
        migrations.RunPython(refuse_all_but_sealing, allow_changes),
    ]
