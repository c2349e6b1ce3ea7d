"""Indexes for the contacts admin search: the start of a first or last name, and the number's last four digits.

Expression indexes written exactly as `contacts/selectors.py` `contacts_search` queries:
`UPPER(first_name) LIKE 'ANA%'` needs `text_pattern_ops` to use a btree whatever the
database collation, and `RIGHT(phone, 4) = '0101'`. PostgreSQL only, built
CONCURRENTLY so a million-row table keeps taking opt-outs while they build; the
embedded SQLite database of `make run` holds a few demo rows and needs none.
"""

from django.db import migrations

INDEXES = {
    "contact_first_name_prefix": '(UPPER("first_name")) text_pattern_ops',
    "contact_last_name_prefix": '(UPPER("last_name")) text_pattern_ops',
    "contact_phone_last_four": '(RIGHT("phone", 4))',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON contacts_contact ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY can't run in a transaction

    dependencies = [
        ("contacts", "0007_opt_outs_by_number"),
    ]

    operations = [migrations.RunPython(create, drop)]
