"""Consent settings checked at start: a scope or region nobody knows would decide opt-outs wrongly."""

import phonenumbers
from django.conf import settings
from django.core.checks import Tags, register
from django.utils.module_loading import import_string

from smsconsent.checks import setting_choice_errors, setting_error, setting_number_errors

OPT_OUT_SCOPES = ("all", "program")  # contacts/services.py: "all" revokes every program


@register(Tags.compatibility)
def contacts_settings_check(app_configs=None, **kwargs):
    errors = setting_choice_errors("CONSENT_OPT_OUT_SCOPE", OPT_OUT_SCOPES, id="contacts.E001")
    errors += setting_number_errors(
        {
            "CONSENT_EVIDENCE_RETENTION_DAYS": (1, None),
            "CONSENT_PENDING_EXPIRY_HOURS": (1, None),
            "CONSENT_MINIMUM_AGE_DEFAULT": (0, 130),
            "OPT_OUT_CONFIRMATION_WINDOW_SECONDS": (1, None),
        },
        id="contacts.E002",
    )
    hint = "Use ISO 3166 country codes such as US and CA."
    if settings.PHONENUMBER_DEFAULT_REGION not in phonenumbers.SUPPORTED_REGIONS:
        problem = "unknown region code."
        errors.append(setting_error("PHONENUMBER_DEFAULT_REGION", problem, hint=hint, id="contacts.E003"))
    unknown = [code for code in settings.SMS_ALLOWED_REGIONS if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not settings.SMS_ALLOWED_REGIONS:
        problem = f"unknown region code(s): {', '.join(unknown)}." if unknown else "no region: no number could sign up."
        errors.append(setting_error("SMS_ALLOWED_REGIONS", problem, hint=hint, id="contacts.E003"))
    if not _anchor_sink_usable(settings.LEDGER_ANCHOR_SINK):
        # Otherwise the first seal fails in a worker, and the ledger's head goes unanchored until someone looks.
        errors.append(setting_error(
            "LEDGER_ANCHOR_SINK", "not the dotted path of an anchor sink class.",
            hint="contacts.anchors.FileAnchorSink (the default), or a subclass of contacts.anchors.AnchorSink.",
            id="contacts.E004",
        ))  # fmt: skip
    return errors


def _anchor_sink_usable(path: str) -> bool:
    from .anchors import AnchorSink

    try:
        sink = import_string(path)
    except ImportError:
        return False
    return isinstance(sink, type) and issubclass(sink, AnchorSink)
