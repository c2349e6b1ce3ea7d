"""The fixed texts the product sends, composed from a program's fields (CTIA shapes).

Kept in one module so the HELP reply, the confirmations and the web page's
preview can never drift apart.
"""

import re

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, npgettext, pgettext

RATES = "Msg&data rates may apply."

# The usual ways staff write a program's message frequency (CTIA's "Up to 4 msgs/month", "Msg frequency
# varies"). Written like this, the frequency is said in the reader's language; anything else is shown
# as staff wrote it, like the program's name and description.
_UP_TO = re.compile(r"^up to (\d+) (?:msgs?|messages?|texts?) ?(?:/|per|a|an|every) ?(month|mo|week|wk|day)\.?$", re.I)
_VARIES = re.compile(r"^(?:msg|message|text)s? frequency varies\.?$", re.I)
_UNITS = {"mo": "month", "wk": "week"}
_UP_TO_ON_A_PAGE = {
    "month": lambda n: ngettext("Up to %(n)s msg/month", "Up to %(n)s msgs/month", n),
    "week": lambda n: ngettext("Up to %(n)s msg/week", "Up to %(n)s msgs/week", n),
    "day": lambda n: ngettext("Up to %(n)s msg/day", "Up to %(n)s msgs/day", n),
}
# In a text message (context "sms"): translations keep to the GSM-7 alphabet, unaccented, so a translated
# text costs no more segments than the English one.
_UP_TO_IN_A_TEXT = {
    "month": lambda n: npgettext("sms", "Up to %(n)s msg/month", "Up to %(n)s msgs/month", n),
    "week": lambda n: npgettext("sms", "Up to %(n)s msg/week", "Up to %(n)s msgs/week", n),
    "day": lambda n: npgettext("sms", "Up to %(n)s msg/day", "Up to %(n)s msgs/day", n),
}


def frequency_localize(text: str, *, in_a_text: bool = False) -> str:
    """A program's frequency disclosure in the active language, when it is written the usual way."""
    text = " ".join(str(text or "").split())
    language = translation.get_language() or settings.LANGUAGE_CODE
    if language.split("-")[0] == settings.LANGUAGE_CODE.split("-")[0]:
        return text  # the language staff write in: their words, exactly
    if _VARIES.match(text):
        return pgettext("sms", "Msg frequency varies") if in_a_text else _("Msg frequency varies")
    match = _UP_TO.match(text)
    if not match:
        return text
    n, unit = int(match[1]), match[2].lower()
    wording = _UP_TO_IN_A_TEXT if in_a_text else _UP_TO_ON_A_PAGE
    return wording[_UNITS.get(unit, unit)](n) % {"n": n}


def _frequency(program) -> str:
    return frequency_localize(program.frequency_text, in_a_text=True).rstrip(".")


def text_opt_in_confirmation(program) -> str:
    """Sent once when consent becomes active: brand, program, frequency, rates, HELP and STOP."""
    return _(
        "%(brand)s: You're subscribed to %(name)s. %(frequency)s. %(rates)s Reply HELP for help, STOP to cancel."
    ) % {
        "brand": program.brand,
        "name": program.name,
        "frequency": _frequency(program),
        "rates": _(RATES),
    }


def text_double_opt_in_request(program) -> str:
    """Sent after a web sign-up to a double opt-in program; a YES reply completes consent."""
    return _(
        "%(brand)s: Reply YES to confirm you want %(name)s texts. %(frequency)s. %(rates)s "
        "Reply HELP for help, STOP to cancel."
    ) % {
        "brand": program.brand,
        "name": program.name,
        "frequency": _frequency(program),
        "rates": _(RATES),
    }


def text_help(program) -> str:
    """The HELP/INFO reply: brand, program, a contact, frequency, rates, STOP instructions."""
    return _("%(brand)s %(name)s: Help at %(contact)s. %(frequency)s. %(rates)s Reply STOP to cancel.") % {
        "brand": program.brand,
        "name": program.name,
        "contact": program.help_contact,
        "frequency": _frequency(program),
        "rates": _(RATES),
    }


def text_opt_out_confirmation(brand: str) -> str:
    """The one reply to an opt-out: no marketing, says how to come back."""
    return _("%(brand)s: You're unsubscribed and will receive no more messages. Reply START to resubscribe.") % {
        "brand": brand
    }


def text_help_generic(brand: str, contact: str) -> str:
    """HELP from a number with no program: who we are, where to get help, how to stop."""
    parts = [f"{brand}:" if brand else "", _("Help at %(contact)s.") % {"contact": contact} if contact else ""]
    parts.append(_("%(rates)s Reply STOP to cancel.") % {"rates": _(RATES)})
    return " ".join(p for p in parts if p)


def text_opt_out_confirmation_generic(brand: str) -> str:
    """The opt-out reply when no program's brand is known."""
    if brand:
        return text_opt_out_confirmation(brand)
    return _("You're unsubscribed and will receive no more messages. Reply START to resubscribe.")


def text_keyword_needs_web_sign_up(program, url: str) -> str:
    """A keyword for an age-gated program: consent needs the date-of-birth check on the web page first."""
    return _("%(brand)s: To join %(name)s, confirm your age at %(url)s %(rates)s Reply HELP for help.") % {
        "brand": program.brand,
        "name": program.name,
        "url": url,
        "rates": _(RATES),
    }


def text_how_to_join(options) -> str:
    """The reply to START from a number we don't know: how to join (never an opt-in by itself)."""
    ways = [_("text %(keyword)s (%(name)s)") % {"keyword": keyword, "name": name} for keyword, name in options.keywords]
    if options.url:
        ways.append(_("sign up at %(url)s") % {"url": options.url})
    prefix = f"{options.brand}: " if options.brand else ""
    return prefix + _("You're not subscribed. To join, %(ways)s. %(rates)s") % {
        "ways": _(" or ").join(ways),
        "rates": _(RATES),
    }
