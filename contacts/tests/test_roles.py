"""Each staff role can do its job in the admin, and nothing beyond it."""

import importlib.util
import types

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from contacts.models import ConsentMethod
from contacts.services import consent_opt_in
from smsconsent import roles as roles_module
from smsconsent.roles import roles_collect, roles_post_migrate, roles_sync
from testing.users import AUDITOR, MARKETING, ROLES, SUPPORT

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.smoke
def test_migrations_create_the_three_groups_with_the_declared_permissions():
    declared = roles_collect()
    assert set(ROLES) <= set(declared)
    for role in ROLES:
        assert _perms(role) == declared[role]


def test_every_permission_any_roles_file_declares_exists():
    missing = {role: [p for p in perms if not _exists(p)] for role, perms in roles_collect().items()}
    assert {role: absent for role, absent in missing.items() if absent} == {}


def _exists(dotted: str) -> bool:
    app_label, codename = dotted.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists()


def test_only_marketing_may_send_campaigns():
    assert "campaigns.send_campaign" not in _perms(SUPPORT)
    assert "campaigns.send_campaign" not in _perms(AUDITOR)
    if importlib.util.find_spec("campaigns.roles") is None:
        pytest.skip("campaigns declares its roles in campaigns/roles.py")
    assert "campaigns.send_campaign" in _perms(MARKETING)


def test_only_auditors_export_and_nobody_may_change_or_delete_the_ledger():
    assert "contacts.export_contact" in _perms(AUDITOR)
    assert "contacts.export_contact" not in _perms(SUPPORT) | _perms(MARKETING)
    for role in ROLES:
        assert not {"contacts.change_consentevent", "contacts.delete_consentevent"} & _perms(role)
        assert not {p for p in _perms(role) if p.startswith("contacts.delete_contact")}


def test_sync_sets_exactly_the_declared_permissions_and_collects_other_apps(monkeypatch):
    # A permission nobody declares is taken away; another app's declaration is added.
    group = Group.objects.get(name=SUPPORT)
    group.permissions.add(Permission.objects.get(codename="delete_contact"))
    declared = {SUPPORT: ["auth.view_user"], "Newcomers": ["auth.view_group"]}
    fake_app_roles = types.SimpleNamespace(ROLE_PERMISSIONS=declared)
    real_import, real_find_spec = roles_module.import_module, roles_module.find_spec
    fake = "campaigns.roles"
    monkeypatch.setattr(roles_module, "import_module", lambda n: fake_app_roles if n == fake else real_import(n))
    monkeypatch.setattr(roles_module, "find_spec", lambda n: True if n == fake else real_find_spec(n))
    roles_sync()
    assert "contacts.delete_contact" not in _perms(SUPPORT)
    assert {"auth.view_user", "contacts.opt_out_contact"} <= _perms(SUPPORT)
    assert _perms("Newcomers") == {"auth.view_group"}


def test_post_migrate_creates_missing_permissions_then_attaches_them():
    Permission.objects.filter(codename="opt_out_contact").delete()
    assert "contacts.opt_out_contact" not in _perms(SUPPORT)
    roles_post_migrate(sender=None)
    assert "contacts.opt_out_contact" in _perms(SUPPORT)


# --- The role matrix over HTTP -------------------------------------------------------------------------


def _setup():
    contact, program = make_contact(), make_program()
    event = consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    return contact, program, event


# (url name, args kind, method) -> which roles get a 200 (others get 403)
MATRIX = [
    ("admin:contacts_contact_changelist", None, {MARKETING, SUPPORT, AUDITOR}),
    ("admin:contacts_contact_change", "contact", {MARKETING, SUPPORT, AUDITOR}),  # view-only for two of them
    ("admin:contacts_contact_add", None, {SUPPORT}),
    ("admin:contacts_contact_opt_out", "contact", {SUPPORT}),
    ("admin:contacts_contact_opt_in", "contact", {SUPPORT}),
    ("admin:contacts_contact_import", None, {SUPPORT}),
    ("admin:contacts_contact_export", "contact", {AUDITOR}),
    ("admin:contacts_consentevent_changelist", None, {SUPPORT, AUDITOR}),
    ("admin:contacts_subscription_changelist", None, {MARKETING, SUPPORT, AUDITOR}),
    ("admin:contacts_program_add", None, {MARKETING}),
    ("admin:contacts_suppressednumber_add", None, {SUPPORT}),
    ("admin:contacts_suppressednumber_changelist", None, {SUPPORT, AUDITOR}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("url_name", "arg", "allowed"), MATRIX, ids=[m[0].split(":")[1] for m in MATRIX])
def test_role_matrix(client, login_as, role, url_name, arg, allowed):
    from django.contrib import admin

    if url_name == "admin:contacts_program_add" and not admin.site.is_registered(_model("contacts.Program")):
        pytest.skip("the Program admin is registered by the signup app")
    login_as(role)
    contact, _, _ = _setup()
    url = reverse(url_name, args=[contact.pk] if arg == "contact" else [])
    status = client.get(url).status_code
    assert status == (200 if role in allowed else 403), f"{role} GET {url} -> {status}"


def _model(label):
    from django.apps import apps

    return apps.get_model(label)


def test_view_only_roles_cannot_save_a_contact(client, login_as):
    contact, _, _ = _setup()
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    for role in (MARKETING, AUDITOR):
        login_as(role)
        page = client.get(url)
        assert page.context["has_change_permission"] is False
        assert client.post(url, {"phone": "+14155550999", "first_name": "X"}).status_code == 403
    contact.refresh_from_db()
    assert contact.first_name == ""


def test_support_agent_cannot_add_a_program_or_send_campaigns(login_as):
    agent = login_as(SUPPORT)
    assert not agent.has_perm("contacts.add_program")
    assert not agent.has_perm("campaigns.send_campaign")
    assert not agent.has_perm("campaigns.add_campaign")
    assert agent.has_perm("contacts.opt_out_contact")


def test_staff_without_a_role_see_nothing(client, login_as):
    login_as(None)
    contact, _, _ = _setup()
    assert client.get(reverse("admin:contacts_contact_changelist")).status_code == 403
    assert client.get(reverse("admin:contacts_contact_export", args=[contact.pk])).status_code == 403


def test_the_data_migration_alone_creates_the_groups_with_contacts_permissions():
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    Group.objects.all().delete()
    historical = MigrationExecutor(connection).loader.project_state(("contacts", "0004_staff_groups")).apps
    migration = import_module("contacts.migrations.0004_staff_groups")
    with connection.schema_editor(atomic=False) as schema_editor:
        migration.create_groups(historical, schema_editor)
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    assert {"contacts.opt_out_contact", "contacts.opt_in_contact"} <= _perms(SUPPORT)
    assert "contacts.export_contact" in _perms(AUDITOR)
