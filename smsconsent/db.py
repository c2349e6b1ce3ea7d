"""Database helpers for migrations: rows PostgreSQL itself refuses to change."""


def append_only_trigger(table: str, message: str):
    """RunPython (forward, backward) functions that make `table` refuse UPDATE and DELETE on PostgreSQL.

    The ORM refuses too; this stops raw SQL and other clients. TRUNCATE stays possible for the table
    owner, which is how test databases are flushed; production grants should not include it.
    """
    function, trigger = f"{table}_append_only", f"{table}_no_update_delete"
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}: %% of row %% refused', TG_OP, OLD.id USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    drop = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"

    def on_postgresql(sql):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return run

    return on_postgresql(create), on_postgresql(drop)
