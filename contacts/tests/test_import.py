"""CSV import of contacts with consent evidence: every row proven, or nothing imported."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.imports import ImportRejected, contacts_import_csv
from contacts.models import ConsentEvent, ConsentMethod, Contact, Subscription, Tag
from contacts.selectors import consent_may_send
from contacts.services import consent_opt_out, number_suppress
from testing.users import AUDITOR, MARKETING, SUPPORT, staff_user_make

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:contacts_contact_import")
HEADER = "phone,first_name,last_name,email,tags,program,consented_at,consent_method,evidence\n"


def _row(phone, program, *, consented_at="2025-03-01T14:30:00Z", method="Paper form at store 12",
         evidence="Agreed to weekly deals texts", first="", tags=""):  # fmt: skip
    return f"{phone},{first},,,{tags},{program.slug},{consented_at},{method},{evidence}\n"


def _import(text: str, user=None):
    return contacts_import_csv(file=io.BytesIO(text.encode()), actor=user, file_name="list.csv")


@pytest.mark.smoke
def test_import_creates_contacts_with_one_opt_in_event_each():
    program = make_program()
    agent = staff_user_make(SUPPORT)
    result = _import(
        HEADER
        + _row("(415) 555-0171", program, first="Ada", tags="vip; spring")
        + _row("+1 212 555 0172", program, consented_at="2025-02-01"),
        agent,
    )
    assert (result.rows, result.contacts_created, result.opt_ins) == (2, 2, 2)
    ada = Contact.objects.get(phone="+14155550171")
    assert ada.first_name == "Ada"
    assert sorted(ada.tags.values_list("name", flat=True)) == ["spring", "vip"]
    event = ConsentEvent.objects.get(contact=ada)
    assert (event.method, event.actor, event.program) == (ConsentMethod.IMPORT, agent, program)
    assert event.evidence["evidence"] == "Agreed to weekly deals texts"
    assert event.evidence["consent_method"] == "Paper form at store 12"
    assert event.evidence["consented_at"] == "2025-03-01T14:30:00+00:00"
    assert (event.evidence["file_name"], event.evidence["row"]) == ("list.csv", 2)
    assert consent_may_send(contact=ada, program=program)


@pytest.mark.smoke
def test_bad_rows_are_reported_by_row_number_and_nothing_is_written():
    program = make_program()
    text = (
        HEADER
        + _row("+14155550181", program)  # good, but must not survive the bad rows below
        + _row("555-12", program)  # row 3: too short
        + _row("+18005550199", program)  # row 4: toll-free
        + _row("+14155550184", program, evidence="")  # row 5: no evidence
        + "+14155550185,,,,,no-such-program,2025-01-01,form,agreed\n"  # row 6
        + _row("+14155550186", program, consented_at="yesterday")  # row 7
        + _row("+49 151 23456789", program)  # row 8: outside allowed regions
    )
    with pytest.raises(ImportRejected) as rejected:
        _import(text)
    by_row = {e.row: e.message for e in rejected.value.errors}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8]
    assert "not a valid phone number" in by_row[3]
    assert "can't receive text messages" in by_row[4]
    assert "evidence is empty" in by_row[5]
    assert "No program with slug “no-such-program”" in by_row[6]
    assert "is not a date" in by_row[7]
    assert "We can only text numbers in" in by_row[8]
    assert not Contact.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_bad_last_row_rolls_back_every_row_before_it():
    program = make_program()
    good = "".join(_row(f"+1415555{n:04d}", program, tags="imported") for n in range(200, 210))
    with pytest.raises(ImportRejected) as rejected:
        _import(HEADER + good + _row("+14155550299", program, method=""))
    assert [e.row for e in rejected.value.errors] == [12]
    assert (Contact.objects.count(), ConsentEvent.objects.count(), Tag.objects.count()) == (0, 0, 0)


def test_missing_columns_are_named():
    with pytest.raises(ImportRejected) as rejected:
        _import("phone,program\n+14155550190,deals\n")
    assert "consented_at, consent_method, evidence" in str(rejected.value.errors[0])


def test_a_row_cannot_resurrect_consent_older_than_a_later_opt_out():
    program = make_program()
    contact = make_contact("+14155550191")
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    with pytest.raises(ImportRejected) as rejected:
        _import(HEADER + _row("+14155550191", program, consented_at="2020-01-01"))
    assert "opted out on" in rejected.value.errors[0].message
    assert not Subscription.objects.exists()


def test_a_suppressed_number_is_refused():
    program = make_program()
    number_suppress(phone="+14155550192", reason="erased")
    with pytest.raises(ImportRejected) as rejected:
        _import(HEADER + _row("+14155550192", program))
    assert "suppression list" in rejected.value.errors[0].message


def test_queries_per_row_stay_constant():
    program = make_program()
    make_contact("+14155550300")

    def queries_for(numbers):
        rows = "".join(_row(f"+1415555{n:04d}", program, tags="a;b") for n in numbers)
        with CaptureQueriesContext(connection) as ctx:
            _import(HEADER + rows)
        return len(ctx)

    queries_for(range(300, 302))  # creates the tags once
    ten, twenty = queries_for(range(310, 320)), queries_for(range(320, 340))
    per_row = (twenty - ten) / 10
    assert per_row == int(per_row) and per_row <= 20
    assert queries_for(range(340, 345)) == ten - 5 * per_row


def test_import_page_shows_row_errors_and_imports_nothing(client, login_as):
    login_as(SUPPORT)
    program = make_program()
    upload = SimpleUploadedFile("list.csv", (HEADER + _row("+14155550401", program) + _row("12", program)).encode())
    response = client.post(IMPORT, {"file": upload})
    assert response.status_code == 200
    assert "Row 3:" in response.content.decode()
    assert not Contact.objects.exists()


def test_import_page_imports_a_good_file(client, login_as):
    login_as(SUPPORT)
    program = make_program()
    upload = SimpleUploadedFile("list.csv", (HEADER + _row("+14155550402", program)).encode())
    response = client.post(IMPORT, {"file": upload})
    assert response.status_code == 302
    assert Contact.objects.get().subscriptions.get().program == program


def test_import_rejects_a_file_that_is_not_utf8(client, login_as):
    login_as(SUPPORT)
    program = make_program()
    latin1 = (HEADER + _row("+14155550403", program, first="José")).encode("latin-1")
    response = client.post(IMPORT, {"file": SimpleUploadedFile("list.csv", latin1)})
    assert "not UTF-8" in response.content.decode()
    assert not Contact.objects.exists()


@pytest.mark.parametrize("role", [MARKETING, AUDITOR])
def test_import_is_permission_gated(client, login_as, role):
    login_as(role)
    program = make_program()
    assert client.get(IMPORT).status_code == 403
    upload = SimpleUploadedFile("list.csv", (HEADER + _row("+14155550404", program)).encode())
    assert client.post(IMPORT, {"file": upload}).status_code == 403
    assert not Contact.objects.exists()
