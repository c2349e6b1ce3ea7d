"""The public sign-up pages in a real browser: Debian's Chromium driven by Playwright, against a live server."""

from xml.etree import ElementTree

import pytest

from contacts.models import ConsentEvent, ConsentKind, Contact, Subscription, SubscriptionStatus
from contacts.tests.factories import make_program
from messaging.texts import text_double_opt_in_request, text_opt_in_confirmation
from testing.browser import DESKTOP, PHONE, admin_login, screenshot

# serialized_rollback keeps the migrations' data (keyword lists, content types) between live-server tests.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class SentTexts:
    """What the fake Twilio accepted, as (to, body) pairs, oldest first."""

    def __init__(self, fake):
        self.fake = fake

    def __iter__(self):
        return iter([(m["to"], m["body"]) for m in self.fake.messages()])

    def __len__(self):
        return len(self.fake.messages())

    def __eq__(self, other):
        return list(self) == list(other)

    @property
    def bodies(self):
        return [body for _, body in self]


@pytest.fixture
def sent_texts(settings, fake_twilio, eager_celery, live_server):
    """Texts the live server's on-commit sends handed to the fake Twilio over HTTP (SMS_BACKEND=twilio)."""
    settings.PUBLIC_BASE_URL = live_server.url
    return SentTexts(fake_twilio)


def _sign_up(page, url: str, phone: str) -> str:
    page.goto(url)
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Sign up for texts").click()
    page.wait_for_url(url + "thanks/")
    return page.locator("main").inner_text()


def test_checkbox_starts_unchecked_and_submitting_without_it_shows_the_error(live_server, browser, sent_texts):
    make_program(slug="deals")

    def steps(page):
        page.goto(f"{live_server.url}/join/deals/")
        checkbox = page.get_by_role("checkbox")
        seen = {"checked_at_first": checkbox.is_checked()}
        seen["label"] = checkbox.evaluate("el => el.labels[0].innerText")
        page.get_by_label("Mobile number").fill("(415) 555-0142")
        page.get_by_role("button", name="Sign up for texts").click()
        seen["error"] = page.locator("#id_consent_error").inner_text()
        seen["invalid"] = checkbox.get_attribute("aria-invalid")
        seen["described_by"] = checkbox.get_attribute("aria-describedby")
        seen["checked_after"] = checkbox.is_checked()
        screenshot(page, "join-error-phone")
        return seen

    seen = browser.run(steps)

    assert seen["checked_at_first"] is False
    assert "Consent is not a condition of purchase." in seen["label"]
    assert "Check the box to agree to receive text messages." in seen["error"]
    assert (seen["invalid"], seen["described_by"], seen["checked_after"]) == ("true", "id_consent_error", False)
    assert Contact.objects.count() == 0
    assert ConsentEvent.objects.count() == 0
    assert sent_texts == []


def test_valid_submission_lands_on_thanks_writes_evidence_and_sends_exactly_one_text(live_server, browser, sent_texts):
    program = make_program(slug="deals", double_opt_in=False)

    def steps(page):
        page.goto(f"{live_server.url}/join/deals/")
        page.get_by_label("Mobile number").fill("(415) 555-0142")
        page.get_by_label("First name (optional)").fill("Ana")
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Sign up for texts").click()
        page.wait_for_url(f"{live_server.url}/join/deals/thanks/")
        screenshot(page, "thanks-phone")
        return page.get_by_role("heading", level=1).inner_text()

    assert "You're signed up" in browser.run(steps)
    event = ConsentEvent.objects.get()
    assert event.kind == ConsentKind.OPT_IN
    assert event.program == program
    assert event.evidence["form_url"] == f"{live_server.url}/join/deals/"
    assert event.evidence["ip"] == "127.0.0.1"
    assert "Chrome" in event.evidence["user_agent"]
    assert event.evidence["language"] == "en"
    assert "Consent is not a condition of purchase." in event.evidence["disclosure_text"]
    assert list(sent_texts) == [("+14155550142", text_opt_in_confirmation(program))]
    request = sent_texts.fake.create_requests()[0]
    assert request.authorized
    assert request.form["StatusCallback"] == f"{live_server.url}/sms/status/"


def test_form_can_be_completed_with_the_keyboard_alone(live_server, browser, sent_texts):
    make_program(slug="deals")

    def steps(page):
        page.goto(f"{live_server.url}/join/deals/")
        page.get_by_label("Mobile number").focus()
        page.keyboard.type("4155550142")
        page.keyboard.press("Tab")  # first name
        page.keyboard.press("Tab")  # consent checkbox
        focused = page.evaluate("document.activeElement.id")
        page.keyboard.press("Space")
        visited = []
        for _ in range(5):  # the Terms and Privacy links, then the button; never the hidden trap field
            page.keyboard.press("Tab")
            visited.append(page.evaluate("document.activeElement.textContent.trim() || document.activeElement.name"))
            if visited[-1] == "Sign up for texts":
                break
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/join/deals/thanks/")
        return focused, visited

    focused, visited = browser.run(steps)

    assert focused == "id_consent"
    assert visited == ["Terms", "Privacy Policy", "Sign up for texts"]
    assert len(sent_texts) == 1


def test_spanish_page_works_and_the_evidence_says_spanish(live_server, browser, sent_texts):
    make_program(slug="vip", name="VIP club", double_opt_in=True)

    def steps(page):
        page.goto(f"{live_server.url}/join/vip/")
        page.get_by_role("button", name="Español").click()
        seen = {
            "lang": page.locator("html").get_attribute("lang"),
            "disclosure": page.locator("#disclosure").inner_text(),
        }
        screenshot(page, "join-es-phone")
        page.get_by_label("Número de celular").fill("+14155550142")
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Registrarme para recibir mensajes").click()
        page.wait_for_url(f"{live_server.url}/join/vip/thanks/")
        seen["thanks"] = page.locator("main").inner_text()
        screenshot(page, "thanks-es-phone")
        return seen

    seen = browser.run(steps)

    assert seen["lang"] == "es"
    assert "El consentimiento no es una condición de compra." in seen["disclosure"]
    assert "Responde YES" in seen["thanks"]
    event = ConsentEvent.objects.get()
    assert event.kind == ConsentKind.PENDING
    assert event.evidence["language"] == "es"
    assert [body.split(". ")[0] for body in sent_texts.bodies] == [
        "Acme Deals: Responde YES para confirmar que quieres recibir textos de VIP club"
    ]
    assert Subscription.objects.get().status == SubscriptionStatus.PENDING


def test_screenshots_of_the_page_on_phone_and_desktop(live_server, browser, sent_texts):
    make_program(slug="wine", brand="Zed Wines", name="Cellar club", age_gated=True, double_opt_in=True)

    def steps(page, name, width):
        page.goto(f"{live_server.url}/join/wine/")
        dob_visible = page.get_by_label("Date of birth").is_visible()
        # Nothing may be wider than the screen.
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"join-{name}")
        page.get_by_role("button", name="Sign up for texts").click()
        screenshot(page, f"join-errors-{name}")
        return dob_visible, scroll_width <= width

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        result = browser.run(lambda page, n=name, w=viewport["width"]: steps(page, n, w), viewport=viewport)
        assert result == (True, True), name


def test_double_opt_in_completes_on_a_signed_yes_to_the_inbound_webhook(live_server, browser, sent_texts):
    program = make_program(slug="vip", name="VIP club", double_opt_in=True)

    thanks = browser.run(lambda page: _sign_up(page, f"{live_server.url}/join/vip/", "4155550142"))

    assert "Reply YES to the text we just sent" in thanks
    assert sent_texts.bodies == [text_double_opt_in_request(program)]
    assert Subscription.objects.get().status == SubscriptionStatus.PENDING

    # The person answers the text; the fake signs the webhook the way Twilio does.
    reply = sent_texts.fake.post_inbound(f"{live_server.url}/sms/inbound/", from_="+14155550142", body="Yes")

    assert reply.status_code == 200
    assert Subscription.objects.get().status == SubscriptionStatus.ACTIVE
    pending, confirmed = ConsentEvent.objects.order_by("id")
    assert (pending.kind, confirmed.kind) == (ConsentKind.PENDING, ConsentKind.OPT_IN)
    assert confirmed.evidence["confirms_event"] == pending.pk
    # The CTIA confirmation follows the YES, as a TwiML reply or a sent message: exactly one of them.
    confirmation = text_opt_in_confirmation(program)
    twiml = ElementTree.fromstring(reply.text)  # noqa: S314  (our own server's answer)
    replied = [m.text for m in twiml.iter("Message")]
    assert replied + sent_texts.bodies[1:] == [confirmation]


def test_unsigned_yes_confirms_nothing(live_server, browser, sent_texts):
    import requests

    make_program(slug="vip", double_opt_in=True)
    browser.run(lambda page: _sign_up(page, f"{live_server.url}/join/vip/", "4155550142"))

    forged = requests.post(
        f"{live_server.url}/sms/inbound/",
        data={"From": "+14155550142", "Body": "YES", "MessageSid": "SM" + "0" * 32},
        headers={"X-Twilio-Signature": "forged"},
        timeout=30,
    )

    assert forged.status_code == 403
    assert Subscription.objects.get().status == SubscriptionStatus.PENDING


def test_program_admin_preview_follows_edits_before_saving(live_server, browser, sent_texts):
    from django.contrib.auth.models import Permission, User

    from signup.roles import ROLE_PERMISSIONS

    program = make_program(slug="deals", double_opt_in=True)
    staff = User.objects.create_user("marketer", password="a-long-test-password", is_staff=True)
    for dotted in ROLE_PERMISSIONS["Marketing staff"]:
        app_label, codename = dotted.split(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    def steps(page):
        admin_login(
            page, live_server.url, "marketer", "a-long-test-password", f"/admin/contacts/program/{program.pk}/change/"
        )
        preview = page.locator("#program-preview")
        preview.get_by_text("Acme Deals: Reply YES to confirm you want Weekly offers texts.").wait_for()
        page.get_by_label("Brand").fill("Zed Wines")
        page.get_by_label("Frequency text").fill("Up to 2 msgs/week")
        preview.get_by_text(
            "Zed Wines: Reply YES to confirm you want Weekly offers texts. Up to 2 msgs/week."
        ).wait_for()
        disclosures = (
            preview.locator("[lang=en] .disclosure").inner_text(),
            preview.locator("[lang=es] .disclosure").inner_text(),
        )
        page.get_by_label("Double opt in").uncheck()
        preview.get_by_text("Zed Wines: You're subscribed to Weekly offers.").wait_for()
        preview.scroll_into_view_if_needed()
        screenshot(page, "admin-program-preview-desktop")
        return disclosures

    english, spanish = browser.run(steps, viewport=DESKTOP)

    assert "from Zed Wines (Weekly offers)" in english
    assert "de Zed Wines (Weekly offers)" in spanish
    program.refresh_from_db()
    assert program.brand == "Acme Deals"  # nothing saved by previewing


def test_the_opt_out_page_works_on_a_phone_and_confirms_once(live_server, browser, sent_texts):
    from contacts.services import consent_opt_in
    from contacts.tests.factories import make_contact

    program, contact = make_program(slug="deals"), make_contact("+14155550142")
    consent_opt_in(contact=contact, program=program, method="web_form", evidence={"form": "t"})

    def steps(page):
        page.goto(f"{live_server.url}/optout/")
        screenshot(page, "optout-phone")
        page.get_by_label("Mobile number").fill("(415) 555-0142")
        page.get_by_role("button", name="Stop texts to this number").click()
        page.get_by_role("heading", name="Done: no more texts").wait_for()
        screenshot(page, "optout-done-phone")
        return page.locator("main").inner_text()

    shown = browser.run(steps, viewport=PHONE)
    assert "won't get any more" in shown
    assert Subscription.objects.get(contact=contact).status == SubscriptionStatus.OPTED_OUT
    assert [body for to, body in sent_texts if to == "+14155550142"] == [
        "Acme Deals: You're unsubscribed and will receive no more messages. Reply START to resubscribe."
    ]
