"""The contact page staff open to see the proof of consent, in a real browser, on a desk and on a phone.

Evidence holds long unbroken values (a browser's user agent, a disclosure's hash, message SIDs); the
history must keep them inside the page, say when each event was recorded to the second, and leave out
fields that were recorded empty.
"""

import re

import pytest

from contacts.models import ConsentMethod
from contacts.services import consent_opt_in, consent_opt_out, contact_get_or_create
from contacts.tests.factories import make_program
from testing.browser import DESKTOP, PHONE, admin_login, screenshot
from testing.users import staff_user_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-test-password-1"
USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/127.0.6533.103 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/476.0.0.49.74;]"
)


@pytest.fixture
def history():
    """A contact who signed up on the web, then texted STOP: the two events of a typical history."""
    program = make_program(brand="Acme Deals", name="Weekly offers")
    contact, _ = contact_get_or_create(phone="+14155550188")
    consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.WEB_FORM,
        evidence={
            "form_url": "https://acme.example/join/deals/", "ip": "203.0.113.9", "user_agent": USER_AGENT,
            "disclosure_text": "By checking this box, I agree to receive recurring automated marketing texts.",
            "disclosure_sha256": "54ac8cc68580b840044084d5049952a45f9728e18643a3f89718d00d476f00c9",
            "age_gate": None,
        },
    )  # fmt: skip
    consent_opt_out(
        contact=contact, method=ConsentMethod.KEYWORD,
        evidence={"message_sid": "SM" + "4c14252168b5d4e30fcde3dbc334ca1a", "body": "stop texting me please",
                  "opt_out_type": ""},
    )  # fmt: skip
    return contact


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_consent_history_keeps_long_evidence_inside_the_page_and_says_when_to_the_second(
    browser, live_server, history, viewport
):
    staff = staff_user_make(superuser=True, password=PASSWORD)

    def look(page):
        admin_login(page, live_server.url, staff.username, PASSWORD, f"/admin/contacts/contact/{history.pk}/change/")
        ledger = page.locator(".inline-group", has_text="Consent history")
        ledger.locator("td.field-evidence_readable").first.wait_for()
        screenshot(page, f"contact-consent-history-{viewport['width']}")
        return page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                // How far each history table reaches past its box (cut off, or scrolled sideways).
                tables: Object.fromEntries([...document.querySelectorAll('.inline-group')]
                    .map((group) => [group.id, group.querySelector('table').offsetWidth - group.clientWidth])),
                when: [...document.querySelectorAll('td.field-recorded_at')].map((td) => td.innerText.trim()),
                evidence: [...document.querySelectorAll('td.field-evidence_readable')].map((td) => td.innerText),
            })"""
        )

    seen = browser.run(look, viewport=viewport)

    assert seen["page"] <= viewport["width"]  # the page never scrolls sideways
    assert seen["tables"]["consent_events-group"] <= 0  # the history never hides evidence off to the side
    if viewport is DESKTOP:  # on a desk the current consent shows whole too; a phone scrolls it inside its box
        assert max(seen["tables"].values()) <= 0
    assert len(seen["when"]) == 2
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", when) for when in seen["when"])
    stop, sign_up = seen["evidence"]
    assert USER_AGENT in sign_up.replace("\n", "") and "stop texting me please" in stop
    assert "age gate" not in sign_up and "opt out type" not in stop  # recorded empty: nothing to read
