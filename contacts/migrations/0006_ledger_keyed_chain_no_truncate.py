"""The ledger's chain becomes keyed (HMAC-SHA256), and PostgreSQL refuses TRUNCATE of it (see contacts/ledger.py).

Every event sealed before this migration keeps its plain SHA-256 hash and is marked so in `hash_scheme`;
every seal from now on records the keyed scheme. The append-only trigger comes back allowing the sealer to
fill `hash_scheme` with the rest of the seal, once, and refusing TRUNCATE too, including one that cascades
from truncating contacts or programs.
"""

from django.conf import settings
from django.db import migrations, models

from smsconsent.db import append_only_trigger

TABLE, MESSAGE = "contacts_consentevent", "consent ledger is append-only"
refuse_all_but_sealing, allow_changes = append_only_trigger(
    TABLE, MESSAGE, filled_once=("position", "prev_hash", "hash")
)
refuse_all_but_keyed_sealing, _ = append_only_trigger(
    TABLE, MESSAGE, filled_once=("position", "prev_hash", "hash", "hash_scheme"), refuse_truncate=True
)


def sealed_events_unkeyed(apps, schema_editor):
    schema_editor.execute("UPDATE contacts_consentevent SET hash_scheme = 'sha256' WHERE position IS NOT NULL")


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0005_ledger_sealed_after_commit'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(allow_changes, refuse_all_but_sealing),
        migrations.AddField(
            model_name='consentevent',
            name='hash_scheme',
            field=models.CharField(blank=True, choices=[('sha256', 'SHA-256, unkeyed'), ('hmac-sha256', 'HMAC-SHA256 with LEDGER_HMAC_KEY')], max_length=12, null=True),
        ),
        migrations.AddConstraint(
            model_name='consentevent',
            constraint=models.CheckConstraint(condition=models.Q(('hash_scheme__isnull', True), ('hash_scheme__in', ['sha256', 'hmac-sha256']), _connector='OR'), name='consentevent_hash_scheme_valid'),
        ),
        migrations.RunPython(sealed_events_unkeyed, migrations.RunPython.noop),
        migrations.RunPython(refuse_all_but_keyed_sealing, allow_changes),
    ]
