"""Forms for the contacts admin: they validate and clean; services do the writing."""

from django import forms
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smsconsent.control_characters import json_nul_free

from .models import Contact, Program, SubscriptionStatus, SuppressedNumber
from .phones import phone_e164
from .services import ConsentOnBehalf


class PhoneFormField(forms.CharField):
    """A phone number in any format staff type; cleaned to E.164 by `phone_parse` (the one set of rules)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", _("National US format such as (415) 555-0101, or E.164 such as +14155550101."))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return phone_e164(value) if value else value


class ContactAdminForm(forms.ModelForm):
    phone = PhoneFormField()

    class Meta:
        model = Contact
        fields = ["phone", "first_name", "last_name", "email", "tags", "attributes"]

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_attributes(self):
        return json_nul_free(self.cleaned_data["attributes"])

    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        instance = self.instance
        if instance.pk and phone != str(instance.phone) and self._has_live_consent(instance):
            # Consent names one number; it must not silently move to another.
            raise forms.ValidationError(
                _("This contact has consent on record for %(old)s. Opt them out first, or add the new number as "
                  "a new contact."),
                code="consent_names_number",
                params={"old": instance.phone},
            )  # fmt: skip
        return phone

    @staticmethod
    def _has_live_consent(contact) -> bool:
        return contact.subscriptions.filter(
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING]
        ).exists()


class OptOutForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Required. How the person asked, e.g. “Called support on 3 May and asked to stop all texts”."),
    )


class ConsentChannel(models.TextChoices):
    RECORDED_CALL = "recorded_call", _("Verbally, on a recorded call")
    WRITTEN_FORM = "written_form", _("Signed written or paper form")
    EMAIL = "email", _("By e-mail")
    OTHER = "other", _("Other (describe in the details)")


class OptInForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.filter(is_active=True), label=_("Program"))
    channel = forms.ChoiceField(choices=ConsentChannel.choices, label=_("How did the person consent?"))
    consented_at = forms.DateTimeField(
        label=_("When did they consent?"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Date and time the person gave consent, in your admin time zone (see “My time zone”)."),
    )
    details = forms.CharField(
        label=_("Details"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Where the proof is kept (call recording id, scanned form, e-mail subject and date) and what "
                    "the person agreed to."),
    )  # fmt: skip
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Required for age-gated programs: the person must have been old enough when they consented."),
    )
    double_opt_in_exception = forms.CharField(
        label=_("Confirmed without a text (exception)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Leave empty and the person gets a “reply YES” text when the program uses double opt-in. "
                    "Fill in only when they confirmed another way, and say how (kept as evidence). A number "
                    "that ever opted out always needs its own YES."),
    )  # fmt: skip

    def clean_consented_at(self):
        when = self.cleaned_data["consented_at"]
        if when > timezone.now():
            raise forms.ValidationError(_("Consent can't be in the future."), code="future")
        return when

    def consent(self) -> ConsentOnBehalf:
        data = self.cleaned_data
        return ConsentOnBehalf(
            consented_at=data["consented_at"],
            evidence={
                "reason": data["details"],
                "channel": data["channel"],
                "channel_label": str(ConsentChannel(data["channel"]).label),
            },
            date_of_birth=data.get("date_of_birth"),
            double_opt_in_exception=data.get("double_opt_in_exception", ""),
        )


class ContactImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, comma-separated, with a header row."))


class SuppressedNumberAddForm(forms.ModelForm):
    phone = PhoneFormField(label=_("Phone number"))

    class Meta:
        model = SuppressedNumber
        fields = ["phone", "reason"]
