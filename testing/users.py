"""Staff users for tests, one per role, built from the real groups the migrations create."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from contacts.roles import COMPLIANCE_AUDITORS as AUDITOR
from contacts.roles import MARKETING_STAFF as MARKETING
from contacts.roles import SUPPORT_AGENTS as SUPPORT

ROLES = (MARKETING, SUPPORT, AUDITOR)

_n = itertools.count(1)


def staff_user_make(role: str | None = None, *, superuser: bool = False, password: str = "pw-for-tests-only"):  # noqa: S107
    """A staff user in `role`'s group (None: staff with no group at all)."""
    User = get_user_model()
    username = f"{(role or 'staff').split()[0].lower()}-{next(_n)}"
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", password)
    user = User.objects.create_user(username, f"{username}@example.com", password, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def login_as(client):
    """`login_as(role)` logs the test client in as a fresh user of that role and returns the user."""

    def _login(role: str | None = None, *, superuser: bool = False):
        user = staff_user_make(role, superuser=superuser)
        client.force_login(user)
        return user

    return _login
