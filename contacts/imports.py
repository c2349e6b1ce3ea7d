"""Import contacts with their consent evidence from a CSV file: checked whole, then written in short batches.

The first pass parses and checks every row against the web's rules
(`contacts.services.consent_on_behalf_check`: no consent older than the number's
latest opt-out, the age gate, no suppressed number) and writes nothing: a file
with any bad row is refused whole, with every error listed. The second pass
writes `IMPORT_BATCH_ROWS` rows per transaction, so a STOP never waits long
behind an import's locks; each row is checked again under its lock, and a row
whose number opted out in between is refused and reported, not imported.
Rows are streamed from the upload (never all held in memory). Consent for a
double opt-in program, or for a number with an opt-out on record, is recorded
pending and the person gets the "reply YES" text; active imported consent gets
no text (it was confirmed where it was given).
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from messaging.services import consent_text_queue

from .models import ConsentKind, ConsentMethod, Program, Tag
from .phones import phone_facts
from .services import ConsentOnBehalf, consent_on_behalf_check, consent_opt_in_on_behalf, contact_get_or_create
from .validators import person_name_clean

REQUIRED_COLUMNS = ("phone", "program", "consented_at", "consent_method", "evidence")
OPTIONAL_COLUMNS = ("first_name", "last_name", "email", "tags", "date_of_birth", "double_opt_in_exception")
# Past this many, more errors add nothing for the person fixing the file.
MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class RowError:
    row: int  # 1 is the header row
    message: str

    def __str__(self):
        return f"Row {self.row}: {self.message}"


class ImportRejected(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


@dataclass
class ImportResult:
    rows: int = 0
    contacts_created: int = 0
    opt_ins: int = 0  # consent records written (active or pending)
    pending: int = 0  # of those, waiting for the person's YES
    already: int = 0  # rows whose contact was already subscribed or waiting for its YES: nothing recorded
    tags_created: list[str] = field(default_factory=list)
    refused: list[RowError] = field(default_factory=list)  # rows whose number changed state during the write


@dataclass(frozen=True)
class _Row:
    e164: str
    program: Program
    consented_at: datetime
    consent_method: str
    evidence: str
    first_name: str
    last_name: str
    email: str
    tags: tuple[str, ...]
    date_of_birth: date | None
    double_opt_in_exception: str

    def consent(self) -> ConsentOnBehalf:
        return ConsentOnBehalf(
            consented_at=self.consented_at,
            evidence={
                "reason": f"{self.consent_method}: {self.evidence}",
                "consent_method": self.consent_method,
                "evidence": self.evidence,
            },
            date_of_birth=self.date_of_birth,
            double_opt_in_exception=self.double_opt_in_exception,
        )


def contacts_import_csv(*, file, actor, file_name: str = "") -> ImportResult:
    """Check every row, then import them. Raises ImportRejected listing row-numbered errors (nothing written)."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    result = ImportResult()
    try:
        errors = _rows_check(csv.DictReader(text), result)
        if errors:
            raise ImportRejected(errors)
        text.seek(0)
        _rows_write(csv.DictReader(text), actor, file_name, result)
    except UnicodeDecodeError:
        message = "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
        raise ImportRejected([RowError(1, message)]) from None
    except csv.Error as error:
        raise ImportRejected([RowError(1, f"The file is not valid CSV ({error}).")]) from None
    finally:
        text.detach()  # leave the upload open for its owner to close
    return result


def _rows(reader: csv.DictReader, programs: dict[str, Program]):
    """(row number, parsed row or the ValidationError) for each row."""
    _check_header(reader.fieldnames)
    for row_number, raw in enumerate(reader, start=2):
        try:
            yield row_number, _row_parse(raw, programs)
        except ValidationError as error:
            yield row_number, error


def _rows_check(reader: csv.DictReader, result: ImportResult) -> list[RowError]:
    errors: list[RowError] = []
    programs = Program.objects.in_bulk(field_name="slug")
    for row_number, row in _rows(reader, programs):
        result.rows += 1
        try:
            if isinstance(row, ValidationError):
                raise row
            consent_on_behalf_check(e164=row.e164, program=row.program, consent=row.consent())
        except ValidationError as error:
            errors.append(RowError(row_number, " ".join(error.messages)))
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
    if not errors and result.rows == 0:
        errors.append(RowError(1, "The file has a header but no rows."))
    return errors


def _rows_write(reader: csv.DictReader, actor, file_name: str, result: ImportResult) -> None:
    programs = Program.objects.in_bulk(field_name="slug")
    tags: dict[str, Tag] = {}
    batch: list[tuple[int, _Row]] = []
    for row_number, row in _rows(reader, programs):
        batch.append((row_number, row))
        if len(batch) >= settings.IMPORT_BATCH_ROWS:
            _batch_write(batch, actor, file_name, tags, result)
            batch = []
    _batch_write(batch, actor, file_name, tags, result)


def _batch_write(batch, actor, file_name: str, tags: dict, result: ImportResult) -> None:
    # One short transaction per batch: the locks a row takes are held for a batch, not for the whole file.
    with transaction.atomic():
        for row_number, row in batch:
            try:
                with transaction.atomic():
                    _row_import(row, row_number, actor, file_name, tags, result)
            except ValidationError as error:
                result.refused.append(RowError(row_number, " ".join(error.messages)))


def _check_header(fieldnames) -> None:
    if not fieldnames:
        raise ImportRejected([RowError(1, "The file is empty: it needs a header row.")])
    present = {(name or "").strip().lower() for name in fieldnames}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        message = (
            f"Missing column(s): {', '.join(missing)}. Required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)}."
        )
        raise ImportRejected([RowError(1, message)])


def _row_parse(raw: dict, programs: dict[str, Program]) -> _Row:
    values = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str | None)}
    problems = []
    e164 = ""
    try:
        e164 = phone_facts(values.get("phone", "")).e164
    except ValidationError as error:
        problems.extend(error.messages)
    program = programs.get(values.get("program", ""))
    if program is None:
        problems.append(f"No program with slug “{values.get('program', '')}”.")
    for column in ("consent_method", "evidence"):
        if not values.get(column):
            problems.append(f"{column} is empty: every row needs consent evidence.")
    consented_at = _parse_when(values.get("consented_at", ""), problems)
    email = values.get("email", "").lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(f"“{email}” is not an e-mail address.")
    names = {}
    for column in ("first_name", "last_name"):
        try:
            names[column] = person_name_clean(values.get(column, ""))
        except ValidationError as error:
            problems.append(f"{column}: {' '.join(error.messages)}")
    born = None
    if values.get("date_of_birth"):
        born = _parse_day(values["date_of_birth"])
        if born is None:
            problems.append(f"date_of_birth “{values['date_of_birth']}” is not a date (use e.g. 1990-04-30).")
    tags = tuple(sorted({t.strip()[:50] for t in values.get("tags", "").replace(",", ";").split(";") if t.strip()}))
    if problems:
        raise ValidationError(problems)
    return _Row(
        e164=e164,
        program=program,
        consented_at=consented_at,
        consent_method=values["consent_method"][:200],
        evidence=values["evidence"][:2000],
        first_name=names.get("first_name", ""),
        last_name=names.get("last_name", ""),
        email=email,
        tags=tags,
        date_of_birth=born,
        double_opt_in_exception=values.get("double_opt_in_exception", "")[:500],
    )


def _parse_day(text: str) -> date | None:
    try:
        return parse_date(text) or datetime.strptime(text, "%m/%d/%Y").date()
    except ValueError:
        return None


def _parse_when(text: str, problems: list) -> datetime | None:
    if not text:
        problems.append("consented_at is empty: say when the person consented.")
        return None
    when = None
    try:
        when = parse_datetime(text)
        if when is None and (day := parse_date(text)):
            when = datetime.combine(day, time.min)
    except ValueError:
        pass
    if when is None:
        problems.append(f"consented_at “{text}” is not a date (use e.g. 2025-03-01T14:30:00Z).")
        return None
    if timezone.is_naive(when):
        when = when.replace(tzinfo=UTC)
    if when > timezone.now():
        problems.append("consented_at is in the future.")
    return when


def _row_import(row: _Row, row_number: int, actor, file_name: str, tags: dict, result: ImportResult) -> None:
    contact, created = contact_get_or_create(
        phone=row.e164, first_name=row.first_name, last_name=row.last_name, email=row.email
    )
    result.contacts_created += created
    if row.tags:
        contact.tags.add(*(_tag(name, tags, result) for name in row.tags))
    consent = row.consent()
    consent.evidence.update({"file_name": file_name, "row": row_number})
    event = consent_opt_in_on_behalf(
        contact=contact, program=row.program, method=ConsentMethod.IMPORT, actor=actor, consent=consent
    )
    if event is None:
        result.already += 1
        return
    result.opt_ins += 1
    if event.kind == ConsentKind.PENDING:
        result.pending += 1
        consent_text_queue(event=event)


def _tag(name: str, cache: dict, result: ImportResult) -> Tag:
    if name not in cache:
        cache[name], created = Tag.objects.get_or_create(name=name)
        if created:
            result.tags_created.append(name)
    return cache[name]


__all__ = ["ImportRejected", "ImportResult", "RowError", "contacts_import_csv"]
