"""The campaign admin as marketing staff and support agents use it: preview, confirm, send, watch."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
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
    response = marketer_client.post(reverse("admin:campaigns_campaign_add"), {
        "name": "Launch", "program": program.pk, "body": "Hello {{ first_name|default:'there' }}",
        "attribute_filters": "{}", "_continue": "1",
    })  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Launch")
    assert campaign.created_by.username == "mia"
    assert campaign.status == CampaignStatus.DRAFT


def test_add_form_rejects_an_attribute_filter_that_is_not_a_name(marketer_client, program):
    response = marketer_client.post(reverse("admin:campaigns_campaign_add"), {
        "name": "Launch", "program": program.pk, "body": "Hello", "attribute_filters": '{"a.b": 1}',
    })  # fmt: skip
    assert response.status_code == 200
    assert "not a valid attribute name" in response.content.decode()
    assert not Campaign.objects.filter(name="Launch").exists()


def test_change_page_shows_the_preview_panel_and_send_buttons_to_marketing(marketer_client, campaign):
    page = marketer_client.get(url("change", campaign)).content.decode()
    assert 'id="campaign-preview"' in page
    assert url("send", campaign) in page
    assert url("schedule", campaign) in page
    assert url("send_test", campaign) in page


def test_change_page_hides_send_buttons_from_support_agents(agent_client, campaign):
    page = agent_client.get(url("change", campaign)).content.decode()
    assert 'id="campaign-preview"' in page  # they may look
    for action in ("send", "schedule", "send_test", "cancel", "pause", "resume"):
        assert url(action, campaign) not in page


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
