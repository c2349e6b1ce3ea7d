"""Forms of the campaign admin. They validate only; what a valid form does lives in `campaigns.services`."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audience import attribute_filters_validate
from .models import Campaign, StaffPreference
from .rendering import body_compile, message_compose
from .staff_time import time_zone_names


class CampaignForm(forms.ModelForm):
    """What a campaign says and whom it reaches. When it goes is decided on the confirmation page only."""

    attribute_filters = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"city": "Austin", "vip": true}'}),
        help_text=_("Only contacts whose attributes equal every value here, e.g. {\"city\": \"Austin\"}. "
                    "Leave {} for everyone."),
    )  # fmt: skip

    class Meta:
        model = Campaign
        fields = ["name", "program", "body", "tags", "attribute_filters"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5, "spellcheck": "true"})}

    def clean_attribute_filters(self):
        value = self.cleaned_data.get("attribute_filters")
        return attribute_filters_validate({} if value in (None, "") else value)

    def clean_body(self):
        body = self.cleaned_data["body"]
        # Refused here, with the reason, rather than when someone presses Send.
        try:
            body_compile(body)
        except ValidationError as error:
            raise ValidationError(error.message_dict["body"]) from None
        return body

    def clean(self):
        cleaned = super().clean()
        body, program = cleaned.get("body"), cleaned.get("program")
        if body and program and "body" not in self.errors:
            try:
                # Brand and footer count towards the length too.
                message_compose(body=body, program=program, contact_fields={})
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, time_zone_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        # The typed time is read in the active time zone (Django converts it): say which one.
        self.fields["send_at"].label = _("Send at, %s") % time_zone_label

    def clean_send_at(self):
        send_at = self.cleaned_data["send_at"]
        if send_at <= timezone.now():
            raise ValidationError(_("Pick a time in the future, or use “Send now”."))
        return send_at


class StaffPreferenceForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=())

    class Meta:
        model = StaffPreference
        fields = ["time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]
        self.fields["time_zone"].help_text = StaffPreference._meta.get_field("time_zone").help_text
