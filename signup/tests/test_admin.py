"""The program admin: keywords, the live preview endpoint, and who may use them."""

import pytest
from django.contrib.auth.models import Permission, User

from contacts.models import Program, ProgramKeyword
from contacts.tests.factories import make_program
from signup.roles import ROLE_PERMISSIONS

pytestmark = pytest.mark.django_db


def _staff_with_role(role: str) -> User:
    user = User.objects.create_user(username=role.replace(" ", "-").lower(), password="pw", is_staff=True)
    for dotted in ROLE_PERMISSIONS[role]:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _program_post(**overrides):
    data = {
        "slug": "deals", "is_active": "on", "brand": "Acme Deals", "name": "Weekly offers",
        "description": "Coupons.", "frequency_text": "Up to 4 msgs/month", "help_contact": "help@acme.test",
        "terms_url": "https://acme.test/terms", "privacy_url": "https://acme.test/privacy",
        "minimum_age": "21",
        "keywords-TOTAL_FORMS": "1", "keywords-INITIAL_FORMS": "0",
        "keywords-MIN_NUM_FORMS": "0", "keywords-MAX_NUM_FORMS": "1000",
        "keywords-0-keyword": " deals ",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_every_role_permission_exists():
    for permissions in ROLE_PERMISSIONS.values():
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), dotted


def test_marketing_staff_add_a_program_and_keywords_are_stored_upper_case(client):
    client.force_login(_staff_with_role("Marketing staff"))
    response = client.post("/admin/contacts/program/add/", _program_post())
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(ProgramKeyword.objects.values_list("keyword", flat=True)) == ["DEALS"]


@pytest.mark.parametrize(
    ("keyword", "error"),
    [
        ("STOP", "STOP already means “opt out” in text replies"),
        ("yes", "YES already means “opt in / confirm” in text replies"),
        ("info", "INFO already means “help”"),
        ("deals!", "letters A–Z and digits only"),
        ("thanks", "People text THANKS for other reasons"),
    ],
)
def test_bad_keywords_are_refused_with_a_clear_error(client, keyword, error):
    client.force_login(_staff_with_role("Marketing staff"))
    response = client.post("/admin/contacts/program/add/", _program_post(**{"keywords-0-keyword": keyword}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Program.objects.exists()


def test_keywords_staff_added_to_the_reply_lists_are_refused_too(client):
    from messaging.models import KeywordMatch, KeywordMeaning, KeywordRule
    from messaging.selectors import keywords_cache_clear

    KeywordRule.objects.create(text="GENUG", meaning=KeywordMeaning.OPT_OUT, match=KeywordMatch.WORD)
    keywords_cache_clear()
    client.force_login(_staff_with_role("Marketing staff"))
    response = client.post("/admin/contacts/program/add/", _program_post(**{"keywords-0-keyword": "genug"}))
    assert "GENUG already means “opt out”" in response.content.decode()


def test_keywords_are_unique_across_programs_whatever_the_case(client):
    other = make_program(slug="other")
    ProgramKeyword.objects.create(program=other, keyword="DEALS")
    client.force_login(_staff_with_role("Marketing staff"))
    response = client.post("/admin/contacts/program/add/", _program_post(**{"keywords-0-keyword": "Deals"}))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_change_page_has_the_live_preview_panel(client):
    program = make_program()
    client.force_login(_staff_with_role("Marketing staff"))
    html = client.get(f"/admin/contacts/program/{program.pk}/change/").content.decode()
    assert 'id="program-preview"' in html
    assert 'data-preview-url="/admin/contacts/program/preview/"' in html
    assert "signup/admin-preview.js" in html


def test_preview_renders_unsaved_values_in_every_language(client):
    client.force_login(_staff_with_role("Marketing staff"))
    response = client.get(
        "/admin/contacts/program/preview/",
        {"brand": "Zed Wines", "name": "Cellar club", "description": "New vintages.", "frequency_text": "2 msgs/mo",
         "help_contact": "zed.test/help", "terms_url": "https://zed.test/t", "privacy_url": "javascript:alert(1)",
         "double_opt_in": "1"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert "Zed Wines (Cellar club)" in html
    assert "Reply YES to confirm you want Cellar club texts" in html
    assert "Consent is not a condition of purchase." in html
    assert "El consentimiento no es una condición de compra." in html
    assert 'href="javascript:' not in html
    assert not Program.objects.exists()


def test_support_agents_may_not_use_the_preview(client):
    client.force_login(_staff_with_role("Support agents"))
    assert client.get("/admin/contacts/program/preview/", {"brand": "X"}).status_code == 403


def test_disclosure_versions_are_read_only_in_the_admin(client):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get("/admin/signup/disclosureversion/add/").status_code == 403
    assert client.get("/admin/signup/disclosureversion/").status_code == 200


def test_preview_counts_segments_and_warns_about_non_gsm_characters(client):
    client.force_login(_staff_with_role("Marketing staff"))
    html = client.get(
        "/admin/contacts/program/preview/",
        {"brand": "Café Ñú", "name": "Ofertas", "frequency_text": "2 msgs/mo", "help_contact": "x.test"},
    ).content.decode()
    assert "1 segment" in html or "2 segments" in html
    assert "outside the GSM-7 alphabet" in html  # ú is not in GSM-7


def test_new_programs_start_with_the_configured_minimum_age(client, settings):
    settings.CONSENT_MINIMUM_AGE_DEFAULT = 25
    client.force_login(_staff_with_role("Marketing staff"))
    html = client.get("/admin/contacts/program/add/").content.decode()
    assert 'name="minimum_age" value="25"' in html


def test_program_list_shows_keywords_and_the_public_page(client):
    program = make_program(slug="deals")
    ProgramKeyword.objects.create(program=program, keyword="DEALS")
    ProgramKeyword.objects.create(program=program, keyword="ACME")
    client.force_login(_staff_with_role("Support agents"))
    html = client.get("/admin/contacts/program/").content.decode()
    assert "ACME, DEALS" in html
    assert 'href="/join/deals/"' in html
