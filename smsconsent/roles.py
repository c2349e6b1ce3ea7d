"""Staff groups and their permissions, collected from every local app's `roles.py`.

Each app declares `ROLE_PERMISSIONS = {"Group name": ["app_label.codename", ...]}`.
`roles_sync` makes each group hold exactly the union of what the apps declare,
so removing a line from a `roles.py` takes the permission away on the next
migrate. It runs from a data migration (groups exist from the first migrate)
and after every migrate (permissions of apps migrated later get attached).
"""

import logging
from collections import defaultdict
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps as global_apps
from django.conf import settings

log = logging.getLogger(__name__)


def _local_app_configs(apps):
    base = Path(settings.BASE_DIR).resolve()
    for app_config in global_apps.get_app_configs():
        if Path(app_config.path).resolve().is_relative_to(base):
            yield app_config


def roles_collect(apps=global_apps) -> dict[str, set[str]]:
    """{"group name": {"app_label.codename", ...}} from every local app with a `roles` module."""
    roles: dict[str, set[str]] = defaultdict(set)
    for app_config in _local_app_configs(apps):
        module_name = f"{app_config.name}.roles"
        if find_spec(module_name) is None:
            continue
        for group, permissions in import_module(module_name).ROLE_PERMISSIONS.items():
            roles[group].update(permissions)
    return dict(roles)


def roles_sync(
    *, apps=global_apps, using: str = "default", roles: dict[str, set[str]] | None = None
) -> dict[str, list[str]]:
    """Create the groups and give each exactly its declared permissions; returns those that don't exist (yet)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    roles = roles_collect() if roles is None else roles
    known = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    missing = {}
    for name, wanted in sorted(roles.items()):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        # Normal mid-migrate: an app migrated later has no permissions yet.
        if absent := sorted(wanted - known.keys()):
            missing[name] = absent
        group.permissions.set([known[p] for p in wanted if p in known])
    return missing


def roles_post_migrate(sender, *, apps=global_apps, using="default", verbosity=1, **kwargs) -> None:
    """After a migrate: create any missing permissions for every app, then sync the groups."""
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=global_apps)
    # After a full migrate every permission exists, so a missing one is a typo in a roles.py.
    for name, absent in roles_sync(using=using).items():
        log.warning("role %s: no such permission(s): %s", name, ", ".join(absent))
