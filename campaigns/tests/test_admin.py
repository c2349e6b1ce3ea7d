"""The campaign admin as marketing staff and support agents use it: preview, confirm, send, watch."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, StaffPreference
from campaigns.roles import ROLE_PERMISSIONS
from contacts.models import ConsentMethod, Contact
from contacts.services import consent_opt_in, consent_opt_out
from contacts.tests.factories import make_contact, make_program
from messaging.models import MessageKind, MessageStatus, OutboundMessage

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"
WEB = {"form_url": "https://acme.test/join/deals/", "ip": "203.0.113.9", "disclosure": "Acme Deals texts"}
MARKETING, SUPPORT = "Marketing staff", "Support agents"


def make_staff(username: str, role: str) -> User:
    """A staff user in the role's group, with exactly the permissions `campaigns/roles.py` declares."""
    group, _ = Group.objects.get_or_create(name=role)
    for dotted in ROLE_PERMISSIONS[role]:
        app_label, codename = dotted.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(group)
    return user


def opted_in(program, **fields):
    contact = make_contact(**fields)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence=WEB)
    return contact


def url(name: str, campaign=None) -> str:
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk] if campaign else [])


def post_new_campaign(client, program, **fields):
    """The add form as a browser posts it; `fields` override the defaults."""
    data = {"name": "Launch", "program": program.pk, "body": "Hello", "attribute_filters": "{}", **fields}
    return client.post(reverse("admin:campaigns_campaign_add"), data)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program():
    return make_program(brand="Acme Deals")


@pytest.fixture
def campaign(program):
    for name in ("Ana", "Ben", "Cy"):
        opted_in(program, first_name=name)
    gone = opted_in(program, first_name="Dee")
    consent_opt_out(contact=gone, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    return Campaign.objects.create(name="Spring sale", program=program, body="Hi {{ first_name }}, 20% off today.")


@pytest.fixture
def marketer_client(client):
    client.force_login(make_staff("mia", MARKETING))
    return client


@pytest.fixture
def agent_client(client):
    client.force_login(make_staff("sam", SUPPORT))
    return client


# --- live preview --------------------------------------------------------------------


@pytest.mark.smoke
def test_preview_reports_segments_encoding_audience_and_cost(marketer_client, campaign, settings):
    settings.SMS_PRICE_PER_SEGMENT = 0.01
    settings.SMS_PRICE_CURRENCY = "USD"
    body = "Hi {{ first_name }}! " + "Big spring sale on every jacket in store. " * 4  # > 160 with prefix/footer

    data = marketer_client.post(url("preview"), {"program": campaign.program.pk, "body": body}).json()

    assert data["ok"] is True
    assert data["encoding"] == "GSM-7"
    assert data["text"].startswith("Acme Deals: Hi Ana!")  # sample contact, brand prefix added
    assert data["text"].endswith("Reply STOP to opt out")  # footer added and counted
    assert data["characters"] == len(data["text"])
    assert data["segments"] == 2
    assert data["audience"]["total"] == 4
    assert data["audience"]["sendable"] == 3
    assert data["audience"]["excluded"]["opted_out"] == 1
    assert data["cost"]["amount"] == pytest.approx(0.06)  # 2 segments x 3 sendable x 0.01
    assert data["cost"]["display"] == "0.06 USD"


def test_preview_names_the_characters_that_force_ucs2(marketer_client, campaign):
    data = marketer_client.post(
        url("preview"), {"program": campaign.program.pk, "body": "It’s here 🎉 {{ first_name }}"}
    ).json()
    assert data["encoding"] == "UCS-2"
    assert data["non_gsm"] == ["’", "🎉"]


def test_preview_follows_the_tags_and_filters_as_typed_not_as_saved(marketer_client, campaign):
    austin = opted_in(campaign.program, first_name="Eve")
    austin.attributes = {"city": "Austin"}
    austin.save()
    data = marketer_client.post(url("preview"), {
        "program": campaign.program.pk, "body": "Hi", "attribute_filters": '{"city": "Austin"}',
        "campaign_id": campaign.pk,
    }).json()  # fmt: skip
    assert data["audience"]["total"] == 1
    assert data["sample"].startswith("Eve")


def test_preview_explains_a_bad_attribute_filter(marketer_client, campaign):
    data = marketer_client.post(url("preview"), {
        "program": campaign.program.pk, "body": "Hi", "attribute_filters": '{"city; DROP": "x"}',
    }).json()  # fmt: skip
    assert data["ok"] is False
    assert "not a valid attribute name" in data["errors"]["attribute_filters"][0]


def test_preview_explains_a_template_error_in_the_body(marketer_client, campaign):
    data = marketer_client.post(url("preview"), {"program": campaign.program.pk, "body": "Hi {% if %}"}).json()
    assert data["ok"] is False
    assert data["errors"]["body"]


def test_preview_without_a_program_asks_for_one(marketer_client):
    data = marketer_client.post(url("preview"), {"body": "Hi"}).json()
    assert data["ok"] is False
    assert data["hint"] == "Choose a program to see who this reaches."


def test_preview_uses_the_saved_campaign_on_a_read_only_page(agent_client, campaign):
    data = agent_client.post(url("preview"), {"campaign_id": campaign.pk}).json()
    assert data["ok"] is True
    assert data["audience"]["sendable"] == 3


def test_preview_is_for_staff_only(client, campaign):
    response = client.post(url("preview"), {"program": campaign.program.pk, "body": "Hi"})
    assert response.status_code == 302  # to the admin login
    assert "/admin/login/" in response["Location"]


# --- building ------------------------------------------------------------------------------


def test_marketing_user_creates_a_campaign_and_is_recorded_as_its_author(marketer_client, program):
    response = post_new_campaign(marketer_client, program, body="Hello {{ first_name|default:'there' }}", _continue="1")
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Launch")
    assert campaign.created_by.username == "mia"
    assert campaign.status == CampaignStatus.DRAFT


def test_add_form_rejects_an_attribute_filter_that_is_not_a_name(marketer_client, program):
    response = post_new_campaign(marketer_client, program, attribute_filters='{"a.b": 1}')
    assert response.status_code == 200
    assert "not a valid attribute name" in response.content.decode()
    assert not Campaign.objects.filter(name="Launch").exists()


def test_change_page_shows_the_preview_panel_and_send_buttons_to_marketing(marketer_client, campaign):
    page = marketer_client.get(url("change", campaign)).content.decode()
    assert 'id="campaign-preview"' in page
    # The buttons submit the campaign form, so what was typed is saved before the confirmation page.
    for button in ("_send_now", "_schedule", "_send_test"):
        assert f'form="campaign_form" name="{button}"' in page


def test_change_page_hides_send_buttons_from_support_agents(agent_client, campaign):
    page = agent_client.get(url("change", campaign)).content.decode()
    assert 'id="campaign-preview"' in page  # they may look
    for action in ("send", "schedule", "send_test", "cancel", "pause", "resume"):
        assert url(action, campaign) not in page
    for button in ("_send_now", "_schedule", "_send_test", "_unschedule"):
        assert f'name="{button}"' not in page


# --- permission gating ---------------------------------------------------------------------


@pytest.mark.parametrize("action", ["send", "schedule", "send_test", "pause", "resume", "cancel"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_support_agent_gets_403_from_every_send_endpoint(agent_client, campaign, action, method):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    data = {"send_at": "2030-01-01T10:00", "phone": "+14155550100"}
    response = getattr(agent_client, method)(url(action, campaign), data if method == "post" else None)
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert not OutboundMessage.objects.filter(kind=MessageKind.TEST).exists()


def test_support_agent_cannot_use_the_list_actions(agent_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    response = agent_client.post(reverse("admin:campaigns_campaign_changelist"),
                                 {"action": "pause_selected", "_selected_action": [campaign.pk]})  # fmt: skip
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert response.status_code in (200, 302)


def test_marketing_user_pauses_selected_campaigns_from_the_list(marketer_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    marketer_client.post(reverse("admin:campaigns_campaign_changelist"),
                         {"action": "pause_selected", "_selected_action": [campaign.pk]})  # fmt: skip
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED


# --- confirmation and sending ---------------------------------------------------------------


@pytest.mark.smoke
def test_send_confirmation_repeats_audience_size_and_cost(marketer_client, campaign, settings):
    settings.SMS_PRICE_PER_SEGMENT = 0.0083
    response = marketer_client.get(url("send", campaign))
    page = response.content.decode()
    summary = response.context["summary"]
    assert summary["audience"]["sendable"] == 3
    assert 'data-confirm="sendable">3<' in page
    assert "Yes, send to 3 contacts" in page
    assert "0.02 USD" in page  # 1 segment x 3 x 0.0083
    assert "opted out" in page.lower()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT  # looking is not sending


@pytest.mark.smoke
def test_send_confirmation_offers_no_send_button_when_nobody_may_be_texted(marketer_client, program):
    gone = opted_in(program)
    consent_opt_out(contact=gone, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    campaign = Campaign.objects.create(name="Empty", program=program, body="Hi")
    page = marketer_client.get(url("send", campaign)).content.decode()
    assert "Nobody in this audience may be texted" in page
    assert "Yes, send" not in page


@pytest.mark.smoke
def test_confirming_send_starts_the_campaign_through_the_engine(marketer_client, campaign):
    response = marketer_client.post(url("send", campaign))
    assert response.status_code == 302
    assert response["Location"] == url("change", campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.started_at is not None


def test_sending_twice_reports_the_engine_error_instead_of_sending_again(marketer_client, campaign):
    marketer_client.post(url("send", campaign))
    response = marketer_client.post(url("send", campaign), follow=True)
    assert "can&#x27;t be sent" in response.content.decode()


def test_schedule_confirmation_sets_the_send_time(marketer_client, campaign):
    when = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    page = marketer_client.get(url("schedule", campaign)).content.decode()
    assert "Schedule for 3 contacts" in page

    response = marketer_client.post(url("schedule", campaign), {"send_at": when.strftime("%Y-%m-%dT%H:%M")})

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.send_at == when


def test_schedule_in_the_past_is_refused_with_a_reason(marketer_client, campaign):
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = marketer_client.post(url("schedule", campaign), {"send_at": past})
    assert response.status_code == 200
    assert "Pick a time in the future" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_pause_resume_and_cancel_move_the_campaign(marketer_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)

    marketer_client.post(url("pause", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED

    marketer_client.post(url("resume", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING

    assert "can't be restarted" in marketer_client.get(url("cancel", campaign)).content.decode()
    marketer_client.post(url("cancel", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED


def test_send_test_validates_the_number_before_sending(marketer_client, campaign):
    response = marketer_client.post(url("send_test", campaign), {"phone": "12345"})
    assert response.status_code == 200
    assert "not a" in response.content.decode()  # phone_parse's message
    assert not OutboundMessage.objects.filter(kind=MessageKind.TEST).exists()


def test_send_test_queues_one_test_message_to_the_staff_number(marketer_client, campaign):
    opted_in(campaign.program, phone="+14155550142", first_name="Mia")
    response = marketer_client.post(url("send_test", campaign), {"phone": "(415) 555-0142"})
    assert response.status_code == 302
    message = OutboundMessage.objects.get(kind=MessageKind.TEST)
    assert message.to == "+14155550142"
    assert message.body.startswith("Acme Deals: Hi Mia")
    assert message.requested_by.username == "mia"
    assert "+14155550142" in marketer_client.get(url("send_test", campaign)).content.decode()  # remembered


def test_send_test_to_an_opted_out_number_is_refused_with_the_reason(marketer_client, campaign):
    gone = Contact.objects.get(first_name="Dee")
    response = marketer_client.post(url("send_test", campaign), {"phone": str(gone.phone)}, follow=True)
    assert "is not subscribed to" in response.content.decode()
    assert not OutboundMessage.objects.filter(kind=MessageKind.TEST).exists()


# --- progress ---------------------------------------------------------------------------------


def test_progress_json_matches_the_campaign_messages(agent_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    statuses = [MessageStatus.DELIVERED, MessageStatus.DELIVERED, MessageStatus.SENT, MessageStatus.PENDING,
                MessageStatus.SKIPPED]  # fmt: skip
    for status in statuses:
        contact = make_contact()
        OutboundMessage.objects.create(kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact,
                                       to=str(contact.phone), status=status,
                                       reason="opted out" if status == MessageStatus.SKIPPED else "")  # fmt: skip

    data = agent_client.get(url("progress", campaign)).json()

    assert data["status"] == "sending"
    assert data["total"] == 5
    assert data["buckets"]["delivered"] == 2
    assert data["buckets"]["sent"] == 1
    assert data["buckets"]["pending"] == 1
    assert data["buckets"]["skipped"] == 1
    assert data["percent"] == 80.0
    assert data["skip_reasons"] == [{"reason": "opted out", "count": 1}]


def test_progress_and_preview_refuse_staff_without_campaign_permissions(client, campaign):
    client.force_login(User.objects.create_user("nobody", password=PASSWORD, is_staff=True))
    assert client.get(url("progress", campaign)).status_code == 403
    assert client.post(url("preview"), {"campaign_id": campaign.pk}).status_code == 403


def test_change_page_of_a_sending_campaign_shows_the_progress_bar(marketer_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    page = marketer_client.get(url("change", campaign)).content.decode()
    assert 'id="campaign-progress"' in page
    assert url("progress", campaign) in page
    assert url("pause", campaign) in page
    assert url("send", campaign) not in page


def test_campaign_list_shows_progress_without_a_query_per_row(marketer_client, program):
    def add_campaigns(n):
        for _ in range(n):
            c = Campaign.objects.create(name="Sale", program=program, body="Hi", status=CampaignStatus.COMPLETED)
            contact = make_contact()
            OutboundMessage.objects.create(kind=MessageKind.CAMPAIGN, campaign=c, contact=contact,
                                           to=str(contact.phone), status=MessageStatus.DELIVERED)  # fmt: skip

    def list_queries():
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = marketer_client.get(reverse("admin:campaigns_campaign_changelist"))
        assert response.status_code == 200
        return len(queries.captured_queries), response.content.decode()

    add_campaigns(1)
    few, _ = list_queries()
    add_campaigns(5)
    many, page = list_queries()

    assert many == few
    assert "campaign-minibar" in page
    assert "Completed" in page


# --- the change form: saved before confirming, times only through the confirmation page ---------------------


def change_data(campaign, **overrides) -> dict:
    data = {
        "name": campaign.name,
        "program": campaign.program_id,
        "body": campaign.body,
        "attribute_filters": "{}",
    }
    data.update(overrides)
    return data


@pytest.mark.smoke
def test_send_now_saves_unsaved_edits_before_the_confirmation_page(marketer_client, campaign):
    edited = "Hi {{ first_name }}, 30% off today only."
    response = marketer_client.post(url("change", campaign), change_data(campaign, body=edited, _send_now="1"))
    assert response.status_code == 302
    assert response["Location"] == url("send", campaign)
    campaign.refresh_from_db()
    assert campaign.body == edited
    assert campaign.status == CampaignStatus.DRAFT  # saving is not sending: the confirmation page decides
    assert "30% off today only" in marketer_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(("button", "view"), [("_schedule", "schedule"), ("_send_test", "send_test")])
def test_schedule_and_send_test_also_save_the_form_first(marketer_client, campaign, button, view):
    response = marketer_client.post(url("change", campaign), change_data(campaign, name="Renamed", **{button: "1"}))
    assert response["Location"] == url(view, campaign)
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


def test_send_now_with_an_invalid_edit_shows_the_error_and_no_confirmation(marketer_client, campaign):
    data = change_data(campaign, body="Hi {{ coupon }}", _send_now="1")
    response = marketer_client.post(url("change", campaign), data)
    assert response.status_code == 200
    assert "“{{ coupon }}” is not a contact field" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.body == "Hi {{ first_name }}, 20% off today."


def test_the_change_form_has_no_send_at_field(marketer_client, campaign):
    page = marketer_client.get(url("change", campaign)).content.decode()
    assert 'name="send_at"' not in page
    assert "Not scheduled." in page


@pytest.mark.smoke
def test_a_past_send_at_posted_to_the_change_form_never_starts_a_campaign(marketer_client, campaign):
    from campaigns.tasks import campaigns_start_due

    later = timezone.now() + timedelta(days=1)
    services_schedule(campaign, later)
    day, time = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M").split()  # the admin's split widget
    data = change_data(campaign, send_at_0=day, send_at_1=time, _continue="1")
    response = marketer_client.post(url("change", campaign), data)
    assert response.status_code == 302
    campaigns_start_due()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.send_at) == (CampaignStatus.SCHEDULED, later)
    assert not OutboundMessage.objects.filter(campaign=campaign).exists()


def test_a_send_at_posted_for_a_draft_is_not_kept_as_a_time_that_never_fires(marketer_client, campaign):
    day, time = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M").split()
    marketer_client.post(url("change", campaign), change_data(campaign, send_at_0=day, send_at_1=time, _continue="1"))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.send_at) == (CampaignStatus.DRAFT, None)


def services_schedule(campaign, when):
    from campaigns import services

    services.campaign_schedule(campaign=campaign, send_at=when, actor=None)
    campaign.refresh_from_db()


def test_editing_a_scheduled_campaigns_message_takes_it_back_to_draft(marketer_client, campaign):
    services_schedule(campaign, timezone.now() + timedelta(days=1))
    response = marketer_client.post(
        url("change", campaign), change_data(campaign, body="Hi {{ first_name }}, 50% off!", _continue="1"), follow=True
    )
    assert "schedule it again to confirm" in response.content.decode()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.send_at) == (CampaignStatus.DRAFT, None)


def test_renaming_a_scheduled_campaign_keeps_its_schedule(marketer_client, campaign):
    when = timezone.now() + timedelta(days=1)
    services_schedule(campaign, when)
    marketer_client.post(url("change", campaign), change_data(campaign, name="Spring sale (final)", _continue="1"))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.send_at) == ("Spring sale (final)", CampaignStatus.SCHEDULED, when)


def test_unschedule_button_takes_a_scheduled_campaign_back_to_draft(marketer_client, campaign):
    services_schedule(campaign, timezone.now() + timedelta(days=1))
    assert 'name="_unschedule"' in marketer_client.get(url("change", campaign)).content.decode()
    marketer_client.post(url("change", campaign), change_data(campaign, _unschedule="1"))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.send_at) == (CampaignStatus.DRAFT, None)


# --- bodies checked when saved ---------------------------------------------------------------------------


def test_saving_a_body_with_an_unknown_variable_is_refused_naming_it_and_the_allowed_fields(marketer_client, program):
    response = post_new_campaign(marketer_client, program, body="Hi {{ first_name }}, use {{ coupon_code }}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "“{{ coupon_code }}” is not a contact field" in page
    assert "first_name, last_name, email or attributes.&lt;name&gt;" in page
    assert not Campaign.objects.filter(name="Launch").exists()


def test_saving_a_body_that_is_too_long_with_brand_and_footer_is_refused(marketer_client, program, settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARACTERS = 40
    response = post_new_campaign(marketer_client, program, body="Thirty characters of text here")
    assert response.status_code == 200
    assert "one text carries at most 40" in response.content.decode()
    assert not Campaign.objects.filter(name="Launch").exists()


@pytest.mark.parametrize("action", ["send", "schedule"])
def test_confirmation_of_a_body_that_cannot_be_sent_explains_instead_of_failing(marketer_client, program, action):
    opted_in(program, first_name="Ana")
    campaign = Campaign.objects.create(name="Old", program=program, body="Hi {{ coupon }}")  # saved before the check
    response = marketer_client.get(url(action, campaign), follow=True)
    assert response.status_code == 200
    assert "“{{ coupon }}” is not a contact field" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_empty_body_preview_asks_for_the_message_instead_of_an_error(marketer_client, campaign):
    data = marketer_client.post(url("preview"), {"program": campaign.program.pk, "body": ""}).json()
    assert data["ok"] is True
    assert data["errors"] == {}
    assert data["hint"] == "Type the message to see it as people will receive it."
    assert data["audience"]["sendable"] == 3


# --- time zones --------------------------------------------------------------------------------------------


def test_staff_see_and_enter_times_in_the_sites_time_zone_labelled_as_such(marketer_client, campaign, settings):
    settings.STAFF_TIME_ZONE = "America/Chicago"
    page = marketer_client.get(url("schedule", campaign)).content.decode()
    assert "Send at, America/Chicago (the site&#x27;s time zone)" in page
    marketer_client.post(url("schedule", campaign), {"send_at": "2031-01-15T09:30"})
    campaign.refresh_from_db()
    assert campaign.send_at == datetime(2031, 1, 15, 15, 30, tzinfo=UTC)  # 09:30 in Chicago (CST, UTC-6)
    page = marketer_client.get(url("change", campaign)).content.decode()
    assert "Times are in America/Chicago (the site&#x27;s time zone)." in page
    assert "Jan. 15, 2031, 9:30 a.m." in page


def test_a_staff_users_own_time_zone_wins_over_the_sites(marketer_client, campaign, settings):
    settings.STAFF_TIME_ZONE = "America/Chicago"
    StaffPreference.objects.create(user=User.objects.get(username="mia"), time_zone="Europe/Paris")
    page = marketer_client.get(url("schedule", campaign)).content.decode()
    assert "Send at, Europe/Paris (your time zone)" in page
    marketer_client.post(url("schedule", campaign), {"send_at": "2031-01-15T09:30"})
    campaign.refresh_from_db()
    assert campaign.send_at == datetime(2031, 1, 15, 8, 30, tzinfo=UTC)  # 09:30 in Paris (CET, UTC+1)
    changelist = marketer_client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert "When (Europe/Paris)" in changelist
    assert "Jan 15, 09:30" in changelist


def test_staff_choose_their_own_time_zone_and_nobody_elses(marketer_client):
    mine = reverse("admin:campaigns_staffpreference_changelist")
    response = marketer_client.get(mine)
    assert response["Location"] == reverse("admin:campaigns_staffpreference_add")
    marketer_client.post(response["Location"], {"time_zone": "America/Denver"})
    mia = User.objects.get(username="mia")
    assert StaffPreference.objects.get(user=mia).time_zone == "America/Denver"
    assert marketer_client.get(mine)["Location"] == reverse("admin:campaigns_staffpreference_change", args=[mia.pk])
    # A support agent can't open or change Mia's.
    agent = Client()
    agent.force_login(make_staff("sam", SUPPORT))
    other = reverse("admin:campaigns_staffpreference_change", args=[mia.pk])
    assert agent.post(other, {"time_zone": "Asia/Tokyo"}).status_code in (302, 403)
    assert StaffPreference.objects.get(user=mia).time_zone == "America/Denver"
    assert marketer_client.post(reverse("admin:campaigns_staffpreference_add"),
                                {"time_zone": "Not/AZone"}).status_code == 302  # fmt: skip
    assert StaffPreference.objects.get(user=mia).time_zone == "America/Denver"


def test_a_misspelt_site_time_zone_fails_the_system_check(settings):
    from campaigns.staff_time import staff_time_zone_check

    settings.STAFF_TIME_ZONE = "America/Chicag"
    assert [e.id for e in staff_time_zone_check()] == ["campaigns.E001"]
    settings.STAFF_TIME_ZONE = "America/Chicago"
    assert staff_time_zone_check() == []
