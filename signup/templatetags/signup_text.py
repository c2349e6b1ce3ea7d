"""Template filters for the public sign-up pages."""

from django import template

from messaging.texts import frequency_localize

register = template.Library()


@register.filter
def frequency(text: str) -> str:
    """A program's message frequency in the reader's language (see `frequency_localize`)."""
    return frequency_localize(text)
