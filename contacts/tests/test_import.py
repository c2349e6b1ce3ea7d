"""CSV import of contacts with consent evidence: every row proven, or nothing imported."""

import io
import threading

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.imports import ImportRejected, contacts_import_csv
from contacts.models import ConsentEvent, ConsentMethod, Contact, Subscription, Tag
from contacts.selectors import consent_may_send
from contacts.services import consent_opt_out, number_suppress
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from testing.users import AUDITOR, MARKETING, SUPPORT, staff_user_make

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
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


# --- the web's rules apply to imports --------------------------------------------------------------------

FULL_HEADER = HEADER.rstrip("\n") + ",date_of_birth,double_opt_in_exception\n"


def _full_row(phone, program, *, dob="", exception="", **kw):
    return _row(phone, program, **kw).rstrip("\n") + f",{dob},{exception}\n"


def test_an_age_gated_program_needs_a_date_of_birth_showing_the_minimum_age_at_consent():
    program = make_program(age_gated=True, minimum_age=21)
    with pytest.raises(ImportRejected) as rejected:
        _import(
            FULL_HEADER
            + _full_row("+14155550201", program)
            + _full_row("+14155550202", program, dob="2006-01-01", consented_at="2025-03-01T14:30:00Z")
        )
    messages = [e.message for e in rejected.value.errors]
    assert "date of birth" in messages[0] and "under 21" in messages[1]
    assert not ConsentEvent.objects.exists()
    _import(FULL_HEADER + _full_row("+14155550203", program, dob="04/30/1990"))
    assert ConsentEvent.objects.get().evidence["age_gate"] == {
        "minimum_age": 21, "passed": True, "checked_on": "2025-03-01"
    }  # fmt: skip


def test_a_double_opt_in_program_imports_pending_and_asks_for_yes_unless_an_exception_is_recorded():
    program = make_program(double_opt_in=True)
    result = _import(
        FULL_HEADER
        + _full_row("+14155550211", program)
        + _full_row("+14155550212", program, exception="Confirmed by SMS in our previous system on 2025-03-02")
    )
    assert (result.opt_ins, result.pending) == (2, 1)
    asked, excepted = Contact.objects.get(phone="+14155550211"), Contact.objects.get(phone="+14155550212")
    assert Subscription.objects.get(contact=asked).status == "pending"
    request = OutboundMessage.objects.get(contact=asked)
    assert (request.kind, request.status) == (MessageKind.OPT_IN_REQUEST, MessageStatus.PENDING)
    assert consent_may_send(contact=excepted, program=program)
    assert ConsentEvent.objects.get(contact=excepted).evidence["double_opt_in_exception"].startswith("Confirmed by")
    assert not OutboundMessage.objects.filter(contact=excepted).exists()  # imported active consent: no text


def test_an_opt_out_follows_the_number_when_staff_move_the_contact_to_another_number():
    program = make_program()
    contact = make_contact("+14155550221")
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    Contact.objects.filter(pk=contact.pk).update(phone="+14155550229")  # an agent edits the number
    with pytest.raises(ImportRejected) as rejected:
        _import(HEADER + _row("+14155550221", program, consented_at="2020-01-01"))
    assert "opted out on" in rejected.value.errors[0].message
    assert not Subscription.objects.exists()


def test_new_consent_for_a_number_that_opted_out_is_imported_pending_its_own_yes():
    program = make_program()
    contact = make_contact("+14155550231")
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    result = _import(HEADER + _row("+14155550231", program, consented_at=timezone.now().isoformat()))
    assert result.pending == 1
    assert not consent_may_send(contact=contact, program=program)
    assert OutboundMessage.objects.get(contact=contact).kind == MessageKind.OPT_IN_REQUEST


def test_names_that_are_not_names_are_refused():
    program = make_program()
    with pytest.raises(ImportRejected) as rejected:
        _import(HEADER + _row("+14155550241", program, first="WIN $500 at http://evil.example/claim"))
    assert "first_name" in rejected.value.errors[0].message


class _GatedUpload(io.BufferedIOBase):
    """An upload read one line at a time that stops, on the import's second (writing) pass, before line `gate`
    until the test releases it: a long import caught in the middle, at a moment the test knows."""

    def __init__(self, text: str, gate: int):
        self.lines = [line.encode() for line in text.splitlines(keepends=True)]
        self.gate, self.position, self.passes = gate, 0, 1
        self.reached, self.release = threading.Event(), threading.Event()

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        assert (offset, whence) == (0, 0)
        self.position, self.passes = 0, self.passes + 1
        return 0

    def tell(self):
        return sum(len(line) for line in self.lines[: self.position])

    def read1(self, size=-1):
        if self.passes == 2 and self.position == self.gate:
            self.reached.set()
            assert self.release.wait(30)
        if self.position >= len(self.lines):
            return b""
        self.position += 1
        return self.lines[self.position - 1]

    read = read1


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stop_during_a_long_import_never_waits_for_the_rest_of_the_file(settings):
    settings.IMPORT_BATCH_ROWS = 2
    program = make_program()
    numbers = [f"+141555503{n:02d}" for n in range(6)]
    upload = _GatedUpload(HEADER + "".join(_row(n, program) for n in numbers), gate=3)  # after rows 1-2
    results = {}

    def run_import():
        try:
            results["import"] = contacts_import_csv(file=upload, actor=None, file_name="big.csv")
        finally:
            connections.close_all()

    importer = threading.Thread(target=run_import)
    importer.start()
    try:
        assert upload.reached.wait(30), "the import never reached its writing pass"
        first = Contact.objects.get(phone=numbers[0])
        with transaction.atomic():
            with connection.cursor() as cursor:  # a STOP that would have to wait fails instead
                cursor.execute("SET LOCAL lock_timeout = '500ms'")
            consent_opt_out(contact=first, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    finally:
        upload.release.set()
        importer.join(30)
    assert results["import"].opt_ins == 6
    assert not consent_may_send(contact=Contact.objects.get(phone=numbers[0]), program=program)
    assert consent_may_send(contact=Contact.objects.get(phone=numbers[5]), program=program)
