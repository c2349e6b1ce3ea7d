"""Checks on what people type about themselves, shared by the public form, the admin and imports."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Words of letters, joined by single spaces, hyphens, apostrophes or periods ("Jean-Luc", "O'Brien", "Mary J.").
_NAME = re.compile(r"^[^\W\d_]+(?:(?:[ '’\-]|\. ?)[^\W\d_]+)*\.?$")
NAME_MAX_LENGTH = 60


def person_name_clean(value: str) -> str:
    """A person's name, tidied; ValidationError for anything else (digits, links, symbols, a sales pitch).

    A name is printed into texts other people receive ("Hi {{ first_name }}"): a form must not
    be a way to put "WIN $500 at http://…" into a campaign.
    """
    value = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not value:
        return ""
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(_("Use at most %(n)s characters.") % {"n": NAME_MAX_LENGTH}, code="too_long")
    if not _NAME.match(value):
        raise ValidationError(_("Use letters only, like “Ana” or “Jean-Luc”."), code="not_a_name")
    return value
