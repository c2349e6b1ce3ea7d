"""On PostgreSQL the database itself refuses UPDATE and DELETE on the consent ledger.

The ORM refuses too (see ConsentEventQuerySet), but raw SQL or another client
would not go through it. TRUNCATE stays possible for the table owner, which is
how test databases are flushed; production grants should not include it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION contacts_consentevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent ledger is append-only: %% of event %% refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contacts_consentevent_no_update_delete
    BEFORE UPDATE OR DELETE ON contacts_consentevent
    FOR EACH ROW EXECUTE FUNCTION contacts_consentevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS contacts_consentevent_no_update_delete ON contacts_consentevent;
DROP FUNCTION IF EXISTS contacts_consentevent_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]
    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
