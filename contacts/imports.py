"""Import contacts with their consent evidence from a CSV file, all or nothing.

Rows are streamed from the upload (never all held in memory) inside one
transaction. Each row costs a constant number of queries: the contact, its
latest opt-out, tags and the ledger event. The first bad row stops the
writing, the rest are still checked so staff get every error in one go, and
then the whole import rolls back.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import ConsentEvent, ConsentKind, ConsentMethod, Program, SuppressedNumber, Tag
from .phones import phone_digest, phone_facts
from .services import consent_opt_in, contact_get_or_create

REQUIRED_COLUMNS = ("phone", "program", "consented_at", "consent_method", "evidence")
OPTIONAL_COLUMNS = ("first_name", "last_name", "email", "tags")
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
    opt_ins: int = 0
    tags_created: list[str] = field(default_factory=list)


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


def contacts_import_csv(*, file, actor, file_name: str = "") -> ImportResult:
    """Import every row or none. Raises ImportRejected listing row-numbered errors."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    errors: list[RowError] = []
    result = ImportResult()
    try:
        with transaction.atomic():
            _check_header(reader.fieldnames)
            programs = Program.objects.in_bulk(field_name="slug")
            tags: dict[str, Tag] = {}
            for row_number, raw in enumerate(reader, start=2):
                result.rows += 1
                try:
                    row = _row_parse(raw, programs)
                    _row_check_not_revoked(row)
                    if not errors:
                        _row_import(row, row_number, actor, file_name, tags, result)
                except ValidationError as error:
                    errors.append(RowError(row_number, " ".join(error.messages)))
                    if len(errors) >= MAX_REPORTED_ERRORS:
                        break
            if not errors and result.rows == 0:
                errors.append(RowError(1, "The file has a header but no rows."))
            if errors:
                raise ImportRejected(errors)
    except UnicodeDecodeError:
        message = "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
        raise ImportRejected([RowError(1, message)]) from None
    except csv.Error as error:
        raise ImportRejected([RowError(reader.line_num, f"The file is not valid CSV ({error}).")]) from None
    finally:
        text.detach()  # leave the upload open for its owner to close
    return result


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
    for column, limit in (("first_name", 60), ("last_name", 60)):
        if len(values.get(column, "")) > limit:
            problems.append(f"{column} is longer than {limit} characters.")
    tags = tuple(sorted({t.strip()[:50] for t in values.get("tags", "").replace(",", ";").split(";") if t.strip()}))
    if problems:
        raise ValidationError(problems)
    return _Row(
        e164=e164,
        program=program,
        consented_at=consented_at,
        consent_method=values["consent_method"][:200],
        evidence=values["evidence"][:2000],
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        email=email,
        tags=tags,
    )


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


def _row_check_not_revoked(row: _Row) -> None:
    """Consent older than a later opt-out (or a suppression) proves nothing: refuse the row."""
    if SuppressedNumber.objects.filter(digest=phone_digest(row.e164)).exists():
        raise ValidationError("This number is on the suppression list and must never be texted.")
    last_opt_out = (
        ConsentEvent.objects.filter(contact__phone=row.e164, kind=ConsentKind.OPT_OUT)
        .filter(program__isnull=True) | ConsentEvent.objects.filter(
            contact__phone=row.e164, kind=ConsentKind.OPT_OUT, program=row.program)
    ).order_by("-id").values_list("created_at", flat=True).first()  # fmt: skip
    if last_opt_out and last_opt_out >= row.consented_at:
        raise ValidationError(
            f"This number opted out on {last_opt_out:%Y-%m-%d %H:%M} UTC, after the consent in this row. "
            "Only new consent, given after the opt-out, can be imported."
        )


def _row_import(row: _Row, row_number: int, actor, file_name: str, tags: dict, result: ImportResult) -> None:
    contact, created = contact_get_or_create(
        phone=row.e164, first_name=row.first_name, last_name=row.last_name, email=row.email
    )
    result.contacts_created += created
    if row.tags:
        contact.tags.add(*(_tag(name, tags, result) for name in row.tags))
    consent_opt_in(
        contact=contact,
        program=row.program,
        method=ConsentMethod.IMPORT,
        actor=actor,
        evidence={
            "reason": f"{row.consent_method}: {row.evidence}",
            "consent_method": row.consent_method,
            "evidence": row.evidence,
            "consented_at": row.consented_at.isoformat(),
            "file_name": file_name,
            "row": row_number,
        },
    )
    result.opt_ins += 1


def _tag(name: str, cache: dict, result: ImportResult) -> Tag:
    if name not in cache:
        cache[name], created = Tag.objects.get_or_create(name=name)
        if created:
            result.tags_created.append(name)
    return cache[name]


__all__ = ["ImportRejected", "ImportResult", "RowError", "contacts_import_csv"]
