"""`manage.py inbound_spool_apply`: apply the inbound texts kept while the database was away, now.

Beat and the gate do this on their own for the spool in Redis; the files a web host kept while
Redis was away too are applied by that host's next webhook request, or by this command run there.
"""

from django.core.management.base import BaseCommand, CommandError

from messaging.spool import inbound_spool_apply, inbound_spool_apply_files, inbound_spool_waiting


class Command(BaseCommand):
    help = "Apply the inbound texts kept in the spool (Redis, and this host's files) while the database was away."

    def handle(self, *args, **options):
        from_files = inbound_spool_apply_files()
        if not inbound_spool_apply():
            raise CommandError(
                f"{inbound_spool_waiting()} text(s) still wait in Redis: the database can't take them yet, "
                "or another process is applying them."
            )
        self.stdout.write(self.style.SUCCESS(f"Inbound spool applied ({from_files} from this host's files)."))
