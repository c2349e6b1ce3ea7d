"""The public sign-up form. Validation only; what a valid sign-up does lives in `signup.services`."""

from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.phones import phone_e164
from contacts.services import age_on, program_minimum_age
from contacts.validators import person_name_clean

DATE_OF_BIRTH_FORMATS = ["%m/%d/%Y", "%Y-%m-%d"]


class SignupForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=30,
        help_text=_("US mobile number, e.g. (415) 555-0101."),
        error_messages={"required": _("Enter your mobile number.")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    first_name = forms.CharField(
        label=_("First name (optional)"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        input_formats=DATE_OF_BIRTH_FORMATS,
        help_text=_("MM/DD/YYYY"),
        error_messages={
            "required": _("Enter your date of birth."),
            "invalid": _("Enter your date of birth as MM/DD/YYYY."),
        },
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "autocomplete": "bday"}),
    )
    # Never pre-checked: consent must be an act of the person.
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("Check the box to agree to receive text messages.")},
    )
    # The disclosure the person read; if the program changed meanwhile, they must read it again.
    disclosure_sha256 = forms.CharField(widget=forms.HiddenInput, required=False)
    # A field people never see; bots that fill every input give themselves away.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(self, *args, program, disclosure, **kwargs):
        super().__init__(*args, **kwargs)
        self.program = program
        self.disclosure = disclosure
        self.fields["disclosure_sha256"].initial = disclosure.sha256
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        if not program.age_gated:
            del self.fields["date_of_birth"]

    @property
    def minimum_age(self) -> int:
        return program_minimum_age(self.program)

    def clean_first_name(self) -> str:
        return person_name_clean(self.cleaned_data.get("first_name", ""))

    def clean_phone(self) -> str:
        return phone_e164(self.cleaned_data["phone"])  # phone_parse inside: the same errors everywhere

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today or born.year < 1900:
            raise forms.ValidationError(_("Enter a real date of birth."), code="invalid")
        if age_on(born, today) < self.minimum_age:
            raise forms.ValidationError(
                _("You must be at least %(age)s years old to sign up for these messages."),
                code="under_age",
                params={"age": self.minimum_age},
            )
        return born

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("website"):
            raise forms.ValidationError(
                _("We couldn't accept this sign-up. Please reload the page and try again."), code="honeypot"
            )
        if cleaned.get("disclosure_sha256") != self.disclosure.sha256:
            raise forms.ValidationError(
                _("The terms of this program changed while you were on the page. Please read them and agree again."),
                code="disclosure_changed",
            )
        return cleaned

    def age_gate_result(self) -> dict | None:
        """What the evidence says about the age check (the date itself is not kept)."""
        if not self.program.age_gated:
            return None
        return {"minimum_age": self.minimum_age, "passed": True, "checked_on": timezone.localdate().isoformat()}

    def full_clean(self):
        super().full_clean()
        # Tie each error to its field for screen readers.
        for name, field in self.fields.items():
            described = [f"id_{name}_helptext"] if field.help_text else []
            if name in self._errors:
                described.append(f"id_{name}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


class OptOutForm(forms.Form):
    """The public opt-out page: a number, nothing else (revocation must be easy)."""

    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=30,
        help_text=_("The number that gets our texts, e.g. (415) 555-0101."),
        error_messages={"required": _("Enter your mobile number.")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    # A field people never see; bots that fill every input give themselves away.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})

    def clean_phone(self) -> str:
        return phone_e164(self.cleaned_data["phone"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("website"):
            raise forms.ValidationError(_("We couldn't read this request. Please reload the page and try again."))
        return cleaned
