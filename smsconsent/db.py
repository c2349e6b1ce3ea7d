"""Database helpers: rows PostgreSQL itself refuses to change (for migrations), and many rows updated at once."""

from django.db import connection


def append_only_trigger(table: str, message: str, *, filled_once: tuple[str, ...] = (), refuse_truncate: bool = False):
    """RunPython (forward, backward) functions that make `table` refuse UPDATE and DELETE on PostgreSQL.

    The ORM refuses too; this stops raw SQL and other clients. `filled_once` columns may go from all
    NULL to all set, once, in an UPDATE that changes nothing else. `refuse_truncate` refuses TRUNCATE
    too, including one that cascades from a table this one references; without it TRUNCATE stays
    possible for the table owner. Only a superuser's `session_replication_role = replica` (how the
    test suite flushes its database) or the table owner dropping the trigger gets past it.
    """
    function, trigger = f"{table}_append_only", f"{table}_no_update_delete"
    truncate_trigger = f"{table}_no_truncate"
    allow = ""
    if filled_once:
        unchanged = ", ".join(f"'{column}'" for column in filled_once)
        was_empty = " AND ".join(f"OLD.{column} IS NULL" for column in filled_once)
        now_set = " AND ".join(f"NEW.{column} IS NOT NULL" for column in filled_once)
        allow = f"""
    IF TG_OP = 'UPDATE' AND {was_empty} AND {now_set}
       AND to_jsonb(NEW) - ARRAY[{unchanged}] = to_jsonb(OLD) - ARRAY[{unchanged}] THEN
        RETURN NEW;
    END IF;"""
    truncate = ""
    if refuse_truncate:
        # A statement-level trigger has no OLD row, so TRUNCATE is answered before anything reads one.
        truncate = f"""
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION '{message}: TRUNCATE of %% refused', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;"""
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN{truncate}{allow}
    RAISE EXCEPTION '{message}: %% of row %% refused', TG_OP, OLD.id USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {trigger} ON {table};
CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
DROP TRIGGER IF EXISTS {truncate_trigger} ON {table};
"""
    if refuse_truncate:
        create += f"CREATE TRIGGER {truncate_trigger} BEFORE TRUNCATE ON {table} "
        create += f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n"
    drop = (
        f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP TRIGGER IF EXISTS {truncate_trigger} ON {table}; "
        f"DROP FUNCTION IF EXISTS {function}();"
    )

    def on_postgresql(sql):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return run

    return on_postgresql(create), on_postgresql(drop)


def rows_update(model, fields: list[str], rows: list[tuple]) -> None:
    """Give each row its own values of `fields` in one statement; `rows` are (pk, *values).

    Django's bulk_update writes a CASE with a branch per row for each field, which costs more to build
    than to run for the hundreds of rows a sending batch holds; PostgreSQL takes one UPDATE … FROM VALUES.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        # The base manager: a model whose default manager refuses bulk writes still gets this one.
        objects = [model(pk=pk, **dict(zip(fields, values, strict=True))) for pk, *values in rows]
        model._base_manager.bulk_update(objects, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    casts = [meta.pk.db_type(connection), *(column.db_type(connection) for column in columns)]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns)
    names = ", ".join(["pk"] + [quote(c.column) for c in columns])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 — names come from the model
            f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v({names}) WHERE t.{quote(meta.pk.column)} = v.pk",
            [value for row in rows for value in row],
        )
