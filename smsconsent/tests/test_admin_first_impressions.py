"""Small things a newcomer meets first in the admin."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_header_links_the_development_phone_and_offers_no_view_site_404(client, login_as, settings):
    settings.DEV_PHONE_ENABLED = True
    login_as()
    header = client.get("/admin/").content.decode()
    assert '<a href="/admin/phone/">Phone (development)</a>' in header
    assert "View site" not in header
    assert client.get("/").status_code == 404  # where "View site" used to lead


def test_the_header_has_no_phone_link_when_the_phone_is_off(client, login_as, settings):
    settings.DEV_PHONE_ENABLED = False
    login_as()
    assert "Phone (development)" not in client.get("/admin/").content.decode()


def test_the_program_slug_help_shows_the_public_address_pattern_before_a_slug_is_set(client, login_as):
    login_as(superuser=True)
    page = client.get("/admin/contacts/program/add/").content.decode()
    assert "Used in the public sign-up URL /join/&lt;slug&gt;/." in page
