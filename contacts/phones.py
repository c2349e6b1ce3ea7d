"""Phone numbers: the one place a raw number becomes a trusted E.164 value.

Every way a number enters the product (admin, forms, imports, webhooks,
services) goes through `phone_parse`, so they all reject the same inputs with
the same message.
"""

import hashlib
import hmac
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType, geocoder
from phonenumbers import timezone as pn_timezone

# Types that can receive an SMS. In the US most numbers are FIXED_LINE_OR_MOBILE
# (the plan can't tell), so only the types that are certainly not textable are out.
_TEXTABLE_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.VOIP,
}

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
    "Puerto Rico": "PR",
}  # fmt: skip
_STATE_CODES = set(US_STATES.values())


@dataclass(frozen=True)
class PhoneFacts:
    """What the number itself tells us about where its owner lives."""

    e164: str
    time_zones: str  # IANA names joined by "|", sorted; "" when unknown
    region: str  # US state / territory code, "" when unknown or outside the US


def phone_parse(raw, *, region: str | None = None) -> phonenumbers.PhoneNumber:
    """Parse `raw` (national US format or E.164) or raise a ValidationError saying why."""
    text = str(raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(text, region or settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        if _foreign(text):
            raise _outside_allowed_regions() from None
        raise ValidationError(
            _("“%(value)s” is not a phone number. Use a format like (555) 010-1234 or +15550101234."),
            code="invalid",
            params={"value": text[:40]},
        ) from None
    if not phonenumbers.is_valid_number(number):
        if _foreign(text):
            raise _outside_allowed_regions()
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."), code="invalid", params={"value": text[:40]}
        )
    if phonenumbers.region_code_for_number(number) not in settings.SMS_ALLOWED_REGIONS:
        raise _outside_allowed_regions()
    if phonenumbers.number_type(number) not in _TEXTABLE_TYPES:
        raise ValidationError(
            _("“%(value)s” can't receive text messages (it is not a mobile number)."),
            code="not_mobile",
            params={"value": text[:40]},
        )
    return number


def _outside_allowed_regions() -> ValidationError:
    """Names the countries of `SMS_ALLOWED_REGIONS`, in the reader's language."""
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    names = []
    for region in settings.SMS_ALLOWED_REGIONS:
        example = phonenumbers.example_number(region)
        names.append((example and geocoder.country_name_for_number(example, language)) or region)
    return ValidationError(
        _("We can only text numbers in: %(countries)s."), code="region", params={"countries": ", ".join(names)}
    )


def _foreign(text: str) -> bool:
    """Whether a number that isn't valid here is one from another country, typed the way people there do.

    "+44 …" is parsed as such already. Without the plus: an international prefix (00, 011) or a
    country code before a full number ("447911123456"), or a leading 0, which North American
    numbers never have ("07911 123456" in the UK, "0151 …" in Germany).
    """
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.lstrip().startswith("+") or not digits:
        return False
    for prefix in ("011", "00"):
        if digits.startswith(prefix):
            return _valid_elsewhere("+" + digits[len(prefix) :])
    if digits.startswith("0"):
        return len(digits) >= 9  # national numbers abroad are 9 digits or more with their 0; "0123" is a typo
    return len(digits) > 11 and _valid_elsewhere("+" + digits)


def _valid_elsewhere(international: str) -> bool:
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.region_code_for_number(number) not in settings.SMS_ALLOWED_REGIONS
    )


def phone_normalize(raw) -> str | None:
    """E.164 for anything shaped like a phone number, valid for texting or not (None otherwise).

    For matching what arrives from the carrier against what we store: a STOP
    must find its contact even when the number would not pass `phone_parse`
    today (metadata changes, older imports).
    """
    try:
        number = phonenumbers.parse(str(raw or "").strip(), settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_e164(raw) -> str:
    number = raw if isinstance(raw, phonenumbers.PhoneNumber) else phone_parse(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_facts(raw) -> PhoneFacts:
    number = raw if isinstance(raw, phonenumbers.PhoneNumber) else phone_parse(raw)
    # Non-geographic numbers (5XX personal numbers) map to every zone of the country: that is
    # "unknown", stored as "" so quiet hours apply their most careful window to them.
    zones = sorted(z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    if not phonenumbers.is_number_geographical(number) or len(zones) > 4:
        zones = []
    return PhoneFacts(e164=phone_e164(number), time_zones="|".join(zones), region=_region_of(number))


def _region_of(number: phonenumbers.PhoneNumber) -> str:
    if phonenumbers.region_code_for_number(number) not in ("US", "PR"):
        return ""
    description = geocoder.description_for_number(number, "en")
    if description in US_STATES:
        return US_STATES[description]
    # City-level descriptions end in the state code: "San Francisco, CA".
    tail = description.rsplit(",", 1)[-1].strip()
    return tail if tail in _STATE_CODES else ""


def phone_digest(e164: str) -> str:
    """Keyed HMAC of a number: a plain hash of a phone number is reversible by brute force."""
    return hmac.new(settings.SUPPRESSION_HMAC_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()


def phone_search_variants(query: str) -> list[str]:
    """E.164 forms a staff search may mean: "(415) 555-0101", "4155550101", "+1 415…"."""
    query = query.strip()
    try:
        return [phone_e164(phonenumbers.parse(query, settings.PHONENUMBER_DEFAULT_REGION))]
    except phonenumbers.NumberParseException:
        return []
