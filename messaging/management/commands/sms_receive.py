"""`manage.py sms_receive +14155550101 "STOP"`: handle a text as if it came through the webhook.

For development and demos without a Twilio account: the same service the
signed webhook calls, minus the signature, and the TwiML reply printed.
"""

import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from messaging.inbound import inbound_receive


class Command(BaseCommand):
    help = "Handle an inbound text (keywords, opt-outs, HELP) as if Twilio had delivered it."

    def add_arguments(self, parser):
        parser.add_argument("from_number", help="The sender, e.g. +14155550101")
        parser.add_argument("body", help='The text, e.g. "STOP"')
        parser.add_argument("--opt-out-type", default="", help="Twilio's OptOutType (STOP, START or HELP)")

    def handle(self, *args, from_number, body, opt_out_type, **options):
        params = {"MessageSid": "SMlocal" + uuid.uuid4().hex[:27], "From": from_number, "Body": body}
        if opt_out_type:
            params["OptOutType"] = opt_out_type
        try:
            outcome = inbound_receive(params=params)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        message = outcome.message
        self.stdout.write(f"{message.get_classification_display()}: {message.effect or 'nothing to do'}")
        for reply in outcome.replies:
            self.stdout.write(f"reply: {reply}")
