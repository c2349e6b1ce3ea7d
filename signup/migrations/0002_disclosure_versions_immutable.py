"""On PostgreSQL the database itself refuses UPDATE and DELETE of disclosure versions.

Consent evidence names a version by id; changing or removing one would change
what old evidence points at. The ORM refuses too (see DisclosureVersionQuerySet).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION signup_disclosureversion_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'disclosure versions are never changed: %% of version %% refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER signup_disclosureversion_no_update_delete
    BEFORE UPDATE OR DELETE ON signup_disclosureversion
    FOR EACH ROW EXECUTE FUNCTION signup_disclosureversion_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS signup_disclosureversion_no_update_delete ON signup_disclosureversion;
DROP FUNCTION IF EXISTS signup_disclosureversion_immutable();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("signup", "0001_disclosure_versions")]
    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
