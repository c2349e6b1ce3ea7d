"""The fixed texts the product sends, composed from a program's fields (CTIA shapes).

Kept in one module so the HELP reply, the confirmations and the web page's
preview can never drift apart.
"""

from django.utils.translation import gettext as _

RATES = "Msg&data rates may apply."


def text_opt_in_confirmation(program) -> str:
    """Sent once when consent becomes active: brand, program, frequency, rates, HELP and STOP."""
    return _(
        "%(brand)s: You're subscribed to %(name)s. %(frequency)s. %(rates)s Reply HELP for help, STOP to cancel."
    ) % {
        "brand": program.brand,
        "name": program.name,
        "frequency": program.frequency_text.rstrip("."),
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
        "frequency": program.frequency_text.rstrip("."),
        "rates": _(RATES),
    }


def text_help(program) -> str:
    """The HELP/INFO reply: brand, program, a contact, frequency, rates, STOP instructions."""
    return _("%(brand)s %(name)s: Help at %(contact)s. %(frequency)s. %(rates)s Reply STOP to cancel.") % {
        "brand": program.brand,
        "name": program.name,
        "contact": program.help_contact,
        "frequency": program.frequency_text.rstrip("."),
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
