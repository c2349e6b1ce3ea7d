"""The clock sending decisions use (quiet hours, caps, what is due).

`SENDING_CLOCK_OFFSET_SECONDS` shifts it, so a drill or a test can run real
worker processes "at 07:59 in New York" without touching the system clock.
It is 0 in production.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone


def sending_now():
    return timezone.now() + timedelta(seconds=settings.SENDING_CLOCK_OFFSET_SECONDS)
