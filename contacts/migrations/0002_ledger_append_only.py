"""On PostgreSQL the database itself refuses UPDATE and DELETE on the consent ledger."""

from django.db import migrations

from smsconsent.db import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]
    operations = [
        migrations.RunPython(*append_only_trigger("contacts_consentevent", "consent ledger is append-only"))
    ]
