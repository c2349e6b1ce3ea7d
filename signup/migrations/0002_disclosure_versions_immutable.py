"""On PostgreSQL the database itself refuses UPDATE and DELETE of disclosure versions.

Consent evidence names a version by id; changing or removing one would change
what old evidence points at. The ORM refuses too (see DisclosureVersionQuerySet).
"""

from django.db import migrations

from smsconsent.db import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [("signup", "0001_disclosure_versions")]
    operations = [
        migrations.RunPython(
            *append_only_trigger("signup_disclosureversion", "disclosure versions are never changed")
        )
    ]
