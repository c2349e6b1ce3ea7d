"""The contacts admin as staff use it: finding people, reading consent, adding numbers."""

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from contacts.models import ConsentEvent, ConsentMethod, Contact, SubscriptionStatus, SuppressedNumber
from contacts.phones import phone_digest
from contacts.services import consent_opt_in, consent_opt_out
from testing.users import SUPPORT

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

CHANGELIST = reverse("admin:contacts_contact_changelist")
ADD = reverse("admin:contacts_contact_add")


def _opt_in(contact, program):
    return consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "x"})


def _with_inline_management(client, url, data: dict) -> dict:
    """The change page's inline management-form values, as a browser would post them back."""
    page = client.get(url)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
    return data


def _listed(response) -> set[str]:
    return {str(c.phone) for c in response.context["cl"].result_list}


@pytest.mark.smoke
@pytest.mark.parametrize("query", ["(415) 555-0101", "4155550101", "+1 415 555 0101", "415.555.0101", "+14155550101"])
def test_search_finds_a_contact_by_phone_in_any_common_format(client, login_as, query):
    login_as(SUPPORT)
    make_contact("+14155550101")
    make_contact("+14155550102")
    response = client.get(CHANGELIST, {"q": query})
    assert _listed(response) == {"+14155550101"}


def test_search_by_exact_email_ignores_case_and_partial_addresses(client, login_as):
    login_as(SUPPORT)
    make_contact("+14155550103", email="Ada@Example.com")
    make_contact("+14155550104", email="grace@example.com")
    assert _listed(client.get(CHANGELIST, {"q": "ADA@example.COM"})) == {"+14155550103"}
    assert _listed(client.get(CHANGELIST, {"q": "@example.com"})) == set()


@pytest.mark.parametrize("query", ["12345", "#0105", "@", "555-01"])
def test_search_for_something_that_is_no_number_name_or_email_finds_nothing(client, login_as, query):
    login_as(SUPPORT)
    make_contact("+14155550105", first_name="Ada")
    assert _listed(client.get(CHANGELIST, {"q": query})) == set()


@pytest.mark.smoke
def test_search_finds_contacts_by_the_last_four_digits(client, login_as):
    login_as(SUPPORT)
    make_contact("+14155550177")
    make_contact("+12125550177")
    make_contact("+14155550178")
    assert _listed(client.get(CHANGELIST, {"q": "0177"})) == {"+14155550177", "+12125550177"}
    assert _listed(client.get(CHANGELIST, {"q": " 0178 "})) == {"+14155550178"}


@pytest.mark.smoke
def test_search_finds_contacts_by_the_start_of_a_first_or_last_name(client, login_as):
    login_as(SUPPORT)
    make_contact("+14155550181", first_name="Ana", last_name="López")
    make_contact("+14155550182", first_name="Anabel", last_name="Ortiz")
    make_contact("+14155550183", first_name="Ben", last_name="Anand")
    make_contact("+14155550184", first_name="Mary Ann", last_name="Lee")
    assert _listed(client.get(CHANGELIST, {"q": "ana"})) == {"+14155550181", "+14155550182", "+14155550183"}
    assert _listed(client.get(CHANGELIST, {"q": "Ana Ló"})) == {"+14155550181"}
    assert _listed(client.get(CHANGELIST, {"q": "mary ann"})) == {"+14155550184"}
    assert _listed(client.get(CHANGELIST, {"q": "ortiz"})) == {"+14155550182"}


@pytest.mark.parametrize(
    "changelist", ["admin:contacts_consentevent_changelist", "admin:contacts_subscription_changelist"]
)
@pytest.mark.parametrize("query", ["0186", "ana", "Ana Ló", "(415) 555-0186"])
def test_consent_history_and_subscriptions_are_found_as_contacts_are(client, login_as, changelist, query):
    """Agents look people up the same way in every list: number, last four digits, or name."""
    login_as(SUPPORT)
    program = make_program()
    ana, other = make_contact("+14155550186", first_name="Ana", last_name="López"), make_contact("+14155550187")
    _opt_in(ana, program)
    _opt_in(other, program)
    found = {str(row.contact.phone) for row in client.get(reverse(changelist), {"q": query}).context["cl"].result_list}
    assert found == {"+14155550186"}


@pytest.mark.skipif(not ON_POSTGRES, reason="the search indexes are PostgreSQL expression indexes")
@pytest.mark.parametrize(
    ("query", "index"),
    [("0101", "contact_phone_last_four"), ("Ana", "contact_first_name_prefix"), ("Ana", "contact_last_name_prefix")],
)
def test_name_and_last_four_searches_are_answered_from_their_indexes(query, index):
    """The lookups must stay written as the indexes are, or a million contacts get a sequential scan."""
    from django.contrib.admin.sites import site

    model_admin = site._registry[Contact]
    queryset, _ = model_admin.get_search_results(None, Contact.objects.order_by(), query)
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: ask whether the index *can* serve
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan


def test_consent_status_filter_is_per_program(client, login_as):
    login_as(SUPPORT)
    deals, news = make_program(), make_program()
    both = make_contact("+14155550111")
    only_news = make_contact("+14155550112")
    nothing = make_contact("+14155550113")
    _opt_in(both, deals)
    _opt_in(both, news)
    _opt_in(only_news, news)

    active_deals = client.get(CHANGELIST, {"consent": "active", "program": deals.pk})
    assert _listed(active_deals) == {"+14155550111"}
    no_record_deals = client.get(CHANGELIST, {"consent": "none", "program": deals.pk})
    assert _listed(no_record_deals) == {"+14155550112", "+14155550113"}
    assert _listed(client.get(CHANGELIST, {"program": news.pk})) == {"+14155550111", "+14155550112"}

    consent_opt_out(contact=only_news, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    assert _listed(client.get(CHANGELIST, {"consent": "opted_out"})) == {"+14155550112"}
    assert str(nothing.phone) not in _listed(client.get(CHANGELIST, {"consent": "active"}))


def test_a_program_in_the_url_that_is_no_program_id_is_never_a_500(client, login_as):
    login_as(SUPPORT)
    response = client.get(CHANGELIST, {"consent": "active", "program": "abc"})
    assert response.status_code in (200, 302)


def test_region_filter_uses_the_state_derived_from_the_area_code(client, login_as):
    login_as(SUPPORT)
    make_contact("+14155550121")  # San Francisco, CA
    make_contact("+12125550122")  # New York, NY
    assert _listed(client.get(CHANGELIST, {"region": "NY"})) == {"+12125550122"}


def test_contacts_list_query_count_does_not_grow_with_rows_or_subscriptions(client, login_as):
    login_as(SUPPORT)
    program = make_program()
    for _ in range(3):
        _opt_in(make_contact(), program)
    client.get(CHANGELIST)  # warm caches (content types, session)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(CHANGELIST)
    for _ in range(30):
        _opt_in(make_contact(), program)
    with CaptureQueriesContext(connection) as many:
        response = client.get(CHANGELIST)
    assert len(many) == len(few)
    assert response.context["cl"].show_full_result_count is False
    with CaptureQueriesContext(connection) as with_facets_asked:
        client.get(CHANGELIST, {"_facets": "1"})
    assert len(with_facets_asked) == len(few)  # facet counts (a COUNT per filter choice) stay off


def test_unfiltered_contacts_list_uses_the_planner_estimate_instead_of_count(
    client, login_as, monkeypatch, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts import pagination

    login_as(SUPPORT)
    for _ in range(5):
        make_contact()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE", 0)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 5
    assert not [q for q in queries if "COUNT(" in q["sql"] and "contacts_contact" in q["sql"]]
    assert "about 5 contacts" in " ".join(response.content.decode().split())


def test_filtered_contacts_list_stops_counting_at_the_cap(client, login_as, monkeypatch):
    from contacts.pagination import EstimatedCountPaginator

    login_as(SUPPORT)
    for _ in range(5):
        make_contact()  # all 415 numbers: California
    monkeypatch.setattr(EstimatedCountPaginator, "count_cap", 3)
    capped = client.get(CHANGELIST, {"region": "CA"})
    assert capped.context["cl"].paginator.count_capped
    assert "more than 3 contacts" in " ".join(capped.content.decode().split())
    monkeypatch.setattr(EstimatedCountPaginator, "count_cap", 10)
    exact = client.get(CHANGELIST, {"region": "CA"})
    assert exact.context["cl"].result_count == 5
    assert not exact.context["cl"].paginator.count_capped


def test_add_contact_through_the_admin_derives_phone_facts(client, login_as):
    login_as(SUPPORT)
    response = client.post(ADD, {"phone": "(212) 555-0130", "first_name": "Ada", "email": "Ada@Example.COM",
                                 "attributes": "{}"})  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert str(contact.phone) == "+12125550130"
    assert contact.region == "NY"
    assert contact.time_zones == "America/New_York"
    assert contact.phone_digest == phone_digest("+12125550130")
    assert contact.email == "ada@example.com"


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("not a number", "is not a phone number"),
        ("555-01", "is not a valid phone number"),
        ("+1 800 555 0199", "can't receive text messages"),  # toll-free
        ("+49 151 23456789", "We can only text numbers in"),  # a German mobile: outside the allowed regions
        ("", "This field is required"),
    ],
)
def test_admin_add_form_rejects_bad_numbers_with_a_clear_error_and_stores_nothing(client, login_as, phone, message):
    login_as(SUPPORT)
    response = client.post(ADD, {"phone": phone, "attributes": "{}"})
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["phone"])
    assert not Contact.objects.exists()


def test_admin_add_form_refuses_a_duplicate_number_in_another_format(client, login_as):
    login_as(SUPPORT)
    make_contact("+14155550140")
    response = client.post(ADD, {"phone": "(415) 555-0140", "attributes": "{}"})
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)
    assert Contact.objects.count() == 1


def test_changing_the_number_of_a_consenting_contact_is_refused(client, login_as):
    login_as(SUPPORT)
    contact = make_contact("+14155550150")
    _opt_in(contact, make_program())
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    response = client.post(url, _with_inline_management(client, url, {"phone": "+14155550151", "attributes": "{}"}))
    assert response.status_code == 200
    assert "Opt them out first" in str(response.context["adminform"].form.errors["phone"])
    contact.refresh_from_db()
    assert str(contact.phone) == "+14155550150"


def test_changing_the_number_of_a_contact_without_consent_rederives_its_facts(client, login_as):
    login_as(SUPPORT)
    contact = make_contact("+14155550152")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    response = client.post(url, _with_inline_management(client, url, {"phone": "(212) 555-0153", "attributes": "{}"}))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (str(contact.phone), contact.region, contact.phone_digest) == (
        "+12125550153", "NY", phone_digest("+12125550153"),
    )  # fmt: skip


def test_contact_page_shows_consent_history_read_only(client, login_as):
    login_as(SUPPORT)
    contact, program = make_contact(), make_program()
    _opt_in(contact, program)
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP please"})
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    body = response.content.decode()
    assert "Consent history" in body and "STOP please" in body
    # Inline formsets offer no way to add, edit or delete ledger rows or subscriptions.
    for formset in response.context["inline_admin_formsets"]:
        assert formset.has_add_permission is False
        assert formset.has_change_permission is False
        assert formset.has_delete_permission is False


def test_ledger_admin_allows_no_add_change_or_delete_even_for_superusers(client, login_as):
    login_as(superuser=True)
    event = _opt_in(make_contact(), make_program())
    assert client.get(reverse("admin:contacts_consentevent_add")).status_code == 403
    change = reverse("admin:contacts_consentevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # viewable
    assert client.post(change, {"kind": "opt_out"}).status_code == 403
    delete = reverse("admin:contacts_consentevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ConsentEvent.objects.get(pk=event.pk).kind == "opt_in"
    subscription_change = reverse("admin:contacts_subscription_change", args=[event.contact.subscriptions.get().pk])
    assert client.post(subscription_change, {"status": "opted_out"}).status_code == 403
    assert event.contact.subscriptions.get().status == SubscriptionStatus.ACTIVE


def test_ledger_list_shows_evidence_and_filters_by_kind(client, login_as):
    login_as(superuser=True)
    contact = make_contact()
    _opt_in(contact, make_program())
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    response = client.get(reverse("admin:contacts_consentevent_changelist"), {"kind": "opt_out"})
    assert [e.kind for e in response.context["cl"].result_list] == ["opt_out"]
    detail = client.get(reverse("admin:contacts_consentevent_change", args=[response.context["cl"].result_list[0].pk]))
    assert "<dt>body</dt><dd>STOP</dd>" in detail.content.decode()


def test_suppressing_a_number_stores_only_its_digest_and_is_read_only_afterwards(client, login_as):
    login_as(SUPPORT)
    add = reverse("admin:contacts_suppressednumber_add")
    response = client.post(add, {"phone": "(415) 555-0160", "reason": "asked"})
    assert response.status_code == 302
    suppressed = SuppressedNumber.objects.get()
    assert suppressed.digest == phone_digest("+14155550160")
    assert "4155550160" not in suppressed.digest
    change = reverse("admin:contacts_suppressednumber_change", args=[suppressed.pk])
    assert client.post(change, {"reason": "changed"}).status_code == 403
    found = client.get(reverse("admin:contacts_suppressednumber_changelist"), {"q": "415-555-0160"})
    assert list(found.context["cl"].result_list) == [suppressed]


def test_suppressing_a_bad_number_is_refused_with_a_field_error(client, login_as):
    login_as(SUPPORT)
    response = client.post(reverse("admin:contacts_suppressednumber_add"), {"phone": "12", "reason": "x"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"]
    assert not SuppressedNumber.objects.exists()
