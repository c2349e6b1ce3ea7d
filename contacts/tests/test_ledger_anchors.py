"""Head anchors: every seal writes the chain's head outside the database, and the chain must agree with them."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from contacts.anchors import Anchor, AnchorSink, AnchorSinkError, FileAnchorSink
from contacts.ledger import GENESIS_HASH, LedgerSealRefused, event_hash, event_row, ledger_check, ledger_seal
from contacts.models import ConsentEvent, ConsentMethod
from contacts.services import consent_opt_in, consent_opt_out

from .factories import make_contact, make_program
from .tampering import verify_fails

pytestmark = pytest.mark.django_db


def _events(n: int = 2) -> None:
    contact, program = make_contact(), make_program()
    for _ in range(n // 2):
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
        consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})


def _head() -> tuple[int, str]:
    return ConsentEvent.objects.order_by("-position").values_list("position", "hash").first()


def _anchors(path) -> list[tuple[int, str]]:
    return [(anchor.position, anchor.hash) for anchor in FileAnchorSink(path).read()]


@pytest.mark.smoke
def test_each_seal_anchors_its_new_head_in_the_anchor_file(ledger_anchor_file):
    _events(2)
    ledger_seal()
    # The empty chain is anchored before the first keyed event is sealed.
    assert _anchors(ledger_anchor_file) == [(0, GENESIS_HASH), _head()] == [(0, GENESIS_HASH), (2, _head()[1])]
    ledger_seal()  # nothing new: no new anchor
    _events(2)
    ledger_seal(batch_size=1)  # one anchor per committed batch
    assert [position for position, _ in _anchors(ledger_anchor_file)] == [0, 2, 3, 4]
    assert _anchors(ledger_anchor_file)[-1] == _head()


@pytest.mark.smoke
def test_sealing_an_empty_ledger_again_and_again_anchors_the_empty_chain_once(ledger_anchor_file):
    assert ledger_seal() == ledger_seal() == 0
    assert _anchors(ledger_anchor_file) == [(0, GENESIS_HASH)]
    assert ledger_check().problem is None
    _events(2)
    assert ledger_seal() == 2
    assert _anchors(ledger_anchor_file) == [(0, GENESIS_HASH), _head()]


class SwitchableSink(FileAnchorSink):
    """The file sink, except while `down`: then every append fails like an unreachable disk."""

    down = False

    def append(self, anchor):
        if SwitchableSink.down:
            raise AnchorSinkError("anchor storage unreachable")
        super().append(anchor)


@pytest.fixture
def switchable_sink(settings):
    settings.LEDGER_ANCHOR_SINK = f"{__name__}.SwitchableSink"
    SwitchableSink.down = False
    yield SwitchableSink
    SwitchableSink.down = False


def test_a_seal_whose_anchor_write_fails_stays_committed_and_the_next_seal_anchors_it(switchable_sink):
    _events(2)
    ledger_seal()
    _events(2)
    switchable_sink.down = True
    with pytest.raises(AnchorSinkError, match="unreachable"):
        ledger_seal()
    assert not ConsentEvent.objects.filter(position__isnull=True).exists()  # the seal itself committed
    error = verify_fails()
    assert error.returncode == 4
    assert "positions 3 to 4 are sealed but not anchored" in str(error)
    assert "an anchor write failed" in str(error)

    switchable_sink.down = False
    assert ledger_seal() == 0
    assert ledger_check().problem is None
    assert [anchor.position for anchor in switchable_sink().read()] == [0, 2, 4]


def test_an_anchor_outage_before_the_first_anchor_seals_nothing_and_sealing_resumes_when_it_ends(switchable_sink):
    switchable_sink.down = True
    _events(2)
    with pytest.raises(AnchorSinkError):
        ledger_seal()  # the empty chain can't be anchored, so no keyed event is sealed unanchored
    assert ConsentEvent.objects.filter(position__isnull=True).count() == 2
    switchable_sink.down = False
    assert ledger_seal() == 2
    report = ledger_check()
    assert (report.problem, report.checked, report.unsealed) == (None, 2, 0)


def test_an_anchor_outage_after_a_seal_is_anchored_first_when_it_ends(switchable_sink):
    _events(2)
    ledger_seal()
    switchable_sink.down = True
    _events(2)
    with pytest.raises(AnchorSinkError):
        ledger_seal()
    _events(2)
    with pytest.raises(AnchorSinkError):  # the unanchored head is anchored before more is sealed, and that fails
        ledger_seal()
    assert ConsentEvent.objects.filter(position__isnull=True).count() == 2
    switchable_sink.down = False
    assert ledger_seal() == 2
    assert [anchor.position for anchor in switchable_sink().read()] == [0, 2, 4, 6]
    report = ledger_check()
    assert (report.problem, report.checked, report.unsealed) == (None, 6, 0)


def test_the_sealer_refuses_to_build_on_a_chain_whose_anchored_events_were_removed():
    _events(4)
    ledger_seal()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM contacts_subscription")
        cursor.execute("DELETE FROM contacts_consentevent WHERE position > 2")
        cursor.execute("SET session_replication_role = DEFAULT")
    _events(2)
    with pytest.raises(LedgerSealRefused, match=r"position 4 is anchored in .* but the chain ends at 2: events"):
        ledger_seal()
    assert ConsentEvent.objects.filter(position__isnull=True).count() == 2


def test_the_sealer_refuses_a_keyed_chain_whose_anchors_are_gone(ledger_anchor_file):
    _events(2)
    ledger_seal()
    ledger_anchor_file.unlink()
    _events(2)
    with pytest.raises(LedgerSealRefused, match="holds no anchor"):
        ledger_seal()
    assert ConsentEvent.objects.filter(position__isnull=True).count() == 2
    error = verify_fails()
    assert error.returncode == 4
    assert "holds no anchor, but 2 event(s) are sealed" in str(error)


def test_the_sealer_refuses_a_chain_whose_anchored_head_was_rewritten(ledger_anchor_file):
    _events(2)
    ledger_seal()
    position, _ = _head()
    ledger_anchor_file.write_text(Anchor(position, "f" * 64, timezone.now()).as_json() + "\n")
    _events(2)
    with pytest.raises(LedgerSealRefused, match=f"the event at position {position} is not the one anchored"):
        ledger_seal()


def test_verify_ledger_checks_every_anchor_not_only_the_newest(ledger_anchor_file):
    for _ in range(3):
        _events(2)
        ledger_seal()
    lines = ledger_anchor_file.read_text().splitlines()
    assert [Anchor.from_json(line).position for line in lines] == [0, 2, 4, 6]
    call_command("verify_ledger", chunk_size=1, stdout=StringIO())
    older = Anchor.from_json(lines[1])
    lines[1] = Anchor(older.position, "e" * 64, older.at).as_json()
    ledger_anchor_file.write_text("\n".join(lines) + "\n")
    error = verify_fails(chunk_size=1)
    assert error.returncode == 4
    assert f"the event at position {older.position} is not the one anchored at" in str(error)


def test_verify_ledger_fails_when_an_event_holding_the_key_is_added_at_the_head():
    """Someone with the key can chain a valid event onto the head; only the anchors show it came after the seal."""
    _events(2)
    ledger_seal()
    position, prev_hash = _head()
    head = event_row(ConsentEvent.objects.get(position=position))
    forged = {**head, "id": head["id"] + 100, "kind": "opt_in", "method": "admin", "evidence": {"reason": "called"}}
    position += 1
    forged_hash = event_hash(prev_hash, forged, position=position)
    ConsentEvent.objects.bulk_create(
        [ConsentEvent(**forged, position=position, prev_hash=prev_hash, hash=forged_hash, hash_scheme="hmac-sha256")]
    )
    error = verify_fails()
    assert error.returncode == 4
    assert f"positions {position} to {position} are sealed but not anchored" in str(error)


class ListSink(AnchorSink):
    """A sink that keeps anchors in memory, to show any class named by LEDGER_ANCHOR_SINK is used."""

    anchors: list[Anchor] = []

    def append(self, anchor):
        ListSink.anchors.append(anchor)

    def read(self):
        return iter(list(ListSink.anchors))


@pytest.mark.smoke
def test_a_sink_named_by_dotted_path_receives_the_anchors_and_verify_reads_them(settings, ledger_anchor_file):
    settings.LEDGER_ANCHOR_SINK = f"{__name__}.ListSink"
    ListSink.anchors = []
    _events(2)
    ledger_seal()
    assert [(a.position, a.hash) for a in ListSink.anchors] == [(0, GENESIS_HASH), _head()]
    assert not ledger_anchor_file.exists()
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "The head (position 2) matches its anchor." in out.getvalue()
    ListSink.anchors = []
    assert verify_fails().returncode == 4


@pytest.mark.smoke
def test_a_torn_last_anchor_line_is_skipped_and_the_next_anchor_starts_its_own_line(tmp_path):
    sink = FileAnchorSink(tmp_path / "anchors.jsonl")
    at = timezone.now()
    sink.append(Anchor(1, "a" * 64, at))
    with open(sink.path, "ab") as file:
        file.write(b'{"position": 2, "ha')  # a crash mid-write
    assert sink.newest() == Anchor(1, "a" * 64, at)
    assert list(sink.read()) == [Anchor(1, "a" * 64, at)]
    sink.append(Anchor(3, "c" * 64, at + timedelta(seconds=1)))
    assert sink.newest().position == 3  # sealing goes on
    with pytest.raises(AnchorSinkError, match=r"line 2 of .* is not an anchor"):
        list(sink.read())  # and verify names the torn line for someone to look at


def test_verify_ledger_names_an_unreadable_anchor_file(ledger_anchor_file):
    _events(2)
    ledger_seal()
    with open(ledger_anchor_file, "a") as file:
        file.write("not an anchor\n")
    error = verify_fails()
    assert error.returncode == 4
    assert "the anchors can't be read: line 3 of" in str(error)


@pytest.mark.smoke
def test_the_newest_anchor_is_found_at_the_end_of_a_long_file_without_reading_it_all(tmp_path):
    sink = FileAnchorSink(tmp_path / "anchors.jsonl")
    at = timezone.now()
    lines = [Anchor(position, f"{position:064x}", at).as_json() for position in range(1, 2001)]
    sink.path.write_text("\n".join(lines) + "\n")
    assert sink.newest() == Anchor(2000, f"{2000:064x}", at)
    assert FileAnchorSink(tmp_path / "missing.jsonl").newest() is None
    assert list(FileAnchorSink(tmp_path / "missing.jsonl").read()) == []


def test_a_named_seal_queue_sends_every_seal_to_the_workers_of_that_queue():
    """Several machines, one anchor file: beat sends the seal to the queue only that machine's worker reads."""
    code = "from django.conf import settings; print(settings.CELERY_BEAT_SCHEDULE['consent-ledger-seal']['options'])"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smsconsent.settings", "LEDGER_SEAL_QUEUE": "ledger"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "'queue': 'ledger'" in done.stdout
    assert "queue" not in str(django_settings.CELERY_BEAT_SCHEDULE["consent-ledger-seal"]["options"])  # default queue


def test_the_sealer_refuses_to_chain_on_with_a_changed_key(settings):
    _events(2)
    ledger_seal()
    settings.LEDGER_HMAC_KEY = "a-new-key-someone-set-by-mistake-0123456789"
    _events(2)
    with pytest.raises(LedgerSealRefused, match=r"the chain's head, event #\d+ at position 2: its content does not"):
        ledger_seal()
    assert ConsentEvent.objects.filter(position__isnull=True).count() == 2
