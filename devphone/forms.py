from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.phones import phone_normalize


def number_clean(raw: str) -> str:
    """E.164 for anything shaped like a phone number, even one the product would refuse to text:
    the phone plays whoever texts in, as Twilio delivers any sender."""
    number = phone_normalize(raw)
    if number is None:
        raise forms.ValidationError(
            _("“%(value)s” is not a phone number. Use a format like (415) 555-0101 or +14155550101."),
            params={"value": raw[:40]},
        )
    return number


class ReplyForm(forms.Form):
    number = forms.CharField(max_length=40)
    body = forms.CharField(max_length=1600, strip=False, error_messages={"required": _("Type a reply.")})

    def clean_number(self) -> str:
        return number_clean(self.cleaned_data["number"])

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError(_("Type a reply."))
        return body
