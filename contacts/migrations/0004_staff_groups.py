"""Create the staff groups (Marketing staff, Support agents, Compliance auditors).

Permissions of apps migrated after this one are attached by the same sync,
which runs again after every migrate (see `smsconsent.roles`).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_groups(apps, schema_editor):
    from smsconsent.roles import roles_sync

    # Permissions are normally created after migrate; create those known so far now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_contact_permissions_and_email_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
