from io import StringIO

import pytest
from django.core.management import call_command

from contacts.models import ConsentMethod, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program


@pytest.mark.smoke
@pytest.mark.django_db
def test_sms_receive_handles_a_text_like_the_webhook_and_prints_the_reply():
    contact, program = make_contact("+14155550171"), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    out = StringIO()
    call_command("sms_receive", "+14155550171", "Stop please", stdout=out)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert "Opt-out: opted out" in out.getvalue()
    assert "reply: Acme Deals: You're unsubscribed" in out.getvalue()
