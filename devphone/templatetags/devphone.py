from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def devphone_link(context):
    """A link to the development phone in the admin's header, for staff, while the phone is on."""
    user = getattr(context.get("request"), "user", None)
    if not settings.DEV_PHONE_ENABLED or not (user and user.is_active and user.is_staff):
        return ""
    return format_html('<a href="{}">{}</a> /', reverse("devphone:phone"), _("Phone (development)"))
