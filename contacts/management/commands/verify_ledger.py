"""`manage.py verify_ledger`: check the consent ledger's hash chain end to end."""

from django.core.management.base import BaseCommand, CommandError

from contacts.ledger import ledger_check


class Command(BaseCommand):
    help = "Check the consent ledger's hash chain. Exit 0 when intact; otherwise name the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000, help="Rows read per database round trip.")

    def handle(self, *args, chunk_size, **options):
        report = ledger_check(chunk_size=chunk_size)
        if report.problem:
            raise CommandError(
                f"Consent ledger broken at event #{report.problem.event_id}: {report.problem.reason}. "
                f"{report.checked - 1} event(s) before it are intact.",
                returncode=2,
            )
        self.stdout.write(self.style.SUCCESS(f"Consent ledger intact: {report.checked} event(s) verified."))
