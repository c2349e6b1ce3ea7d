"""What staff see in the program admin's live preview: the page's disclosure and every text, per language."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from messaging.segments import is_gsm7, segment_count
from messaging.texts import text_double_opt_in_request, text_help, text_opt_in_confirmation

from .disclosure import disclosure_compose


def program_preview_context(program) -> list[dict]:
    # Labels are lazy so they render in the staff member's language, the previews in each public one.
    previews = []
    for code, name in settings.LANGUAGES:
        with translation.override(code):
            if program.double_opt_in:
                texts = [
                    (_("Text sent after sign-up (asks for YES)"), text_double_opt_in_request(program)),
                    (_("Text sent after the YES reply"), text_opt_in_confirmation(program)),
                ]
            else:
                texts = [(_("Text sent after sign-up"), text_opt_in_confirmation(program))]
            texts.append((_("Reply to HELP"), text_help(program)))
            previews.append(
                {
                    "code": code,
                    "name": name,
                    "disclosure": disclosure_compose(program),
                    "texts": [
                        {
                            "label": label,
                            "body": body,
                            "length": len(body),
                            "segments": segment_count(body),
                            "gsm7": is_gsm7(body),
                        }
                        for label, body in texts
                    ],
                }
            )
    return previews
