"""Row locks held by another connection, at the test's command: what a bulk job or a slow send does."""

import threading
from contextlib import contextmanager

from django.db import connections, transaction


@contextmanager
def contact_lock_held(contact, *, timeout: float = 60.0):
    """Within the block, another connection holds `contact`'s row lock in an open transaction."""
    from contacts.models import Contact

    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Contact.objects.select_for_update().filter(pk=contact.pk).exists()
                locked.set()
                release.wait(timeout)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold, name="contact-lock-holder")
    holder.start()
    try:
        assert locked.wait(10), "the other connection could not take the lock"
        yield
    finally:
        release.set()
        holder.join(timeout)
