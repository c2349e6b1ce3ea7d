"""Twilio's webhooks answer at their address with or without the trailing slash, never with a redirect."""

import pytest
from django.conf import settings

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/sms/inbound", "/sms/inbound/"])
def test_a_stop_is_recorded_at_the_inbound_address_with_or_without_the_slash(fake_twilio, client, path):
    contact, program = make_contact("+14155550142"), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})

    response = fake_twilio.post_inbound(settings.PUBLIC_BASE_URL + path, "+14155550142", "STOP", client=client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert ConsentEvent.objects.filter(contact=contact, kind=ConsentKind.OPT_OUT).count() == 1


@pytest.mark.parametrize("path", ["/sms/status", "/sms/status/"])
def test_status_callbacks_are_answered_with_or_without_the_slash(fake_twilio, client, path):
    response = fake_twilio.post_status_callback(settings.PUBLIC_BASE_URL + path, "SM" + "0" * 32, "delivered",
                                                client=client)  # fmt: skip
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/sms/inbound", "/sms/status"])
@pytest.mark.parametrize("debug", [True, False])
def test_no_webhook_address_redirects_even_unsigned(client, settings, path, debug):
    settings.DEBUG = debug
    assert client.post(path, {"Body": "STOP"}).status_code == 403  # checked, not bounced elsewhere
