"""NUL bytes and other control characters in what browsers send: refused or removed before any view.

PostgreSQL stores no NUL in text or jsonb, so one in a form field, a list filter or
a header reached the database as a 500. Nobody types one: a request carrying a NUL
gets a 400. The other control characters come from pasting (a vertical tab from a
spreadsheet, an escape sequence) and mean nothing in a name, a reason or a text
message, so they are removed from form and query values; tab, newline and carriage
return stay. Twilio's webhooks under /sms/ keep every byte they were sent: what a
texter sends is evidence, and those views check their own input.
"""

import re

from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

NUL = "\x00"
# C0 controls except tab, newline and carriage return, and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNTOUCHED_PATH_PREFIXES = ("/sms/",)


def text_without_controls(value: str) -> str:
    return CONTROL_CHARACTERS.sub("", value)


def json_nul_free(value):
    """A JSON value may spell NUL as "\\u0000", which jsonb refuses: say so instead of failing on save."""
    if _contains_nul(value):
        raise ValidationError(_("Remove the NUL character (\\u0000): text here can't contain one."), code="nul")
    return value


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _carries_nul(request) -> bool:
    if NUL in request.path_info:
        return True
    if any(NUL in value for key, value in request.META.items() if key.startswith("HTTP_") and isinstance(value, str)):
        return True
    for data in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
        if any(NUL in key or any(NUL in value for value in values) for key, values in data.lists()):
            return True
    return False


def _without_controls(data):
    cleaned = data.copy()
    for key, values in data.lists():
        if any(CONTROL_CHARACTERS.search(value) for value in values):
            cleaned.setlist(key, [text_without_controls(value) for value in values])
    return cleaned


class ControlCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(UNTOUCHED_PATH_PREFIXES):
            return self.get_response(request)
        if _carries_nul(request):
            return HttpResponseBadRequest(
                _("This request contained a NUL character, which nothing here accepts. Remove it and try again."),
                content_type="text/plain; charset=utf-8",
            )
        request.GET = _without_controls(request.GET)
        if request.method == "POST":
            request.POST = _without_controls(request.POST)
        return self.get_response(request)
