"""`manage.py verify_ledger`: check the consent ledger's hash chain end to end."""

from django.core.management.base import BaseCommand, CommandError

from contacts.ledger import ledger_check


class Command(BaseCommand):
    help = (
        "Check the consent ledger's hash chain. Exit 0 when intact; otherwise name the first broken event "
        "(exit 2) or an event left unsealed too long (exit 3)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000, help="Rows read per database round trip.")

    def handle(self, *args, chunk_size, **options):
        report = ledger_check(chunk_size=chunk_size)
        if report.problem and report.problem.overdue:
            raise CommandError(
                f"Consent ledger incomplete at event #{report.problem.event_id}: {report.problem.reason} "
                f"The {report.checked} sealed event(s) are intact.",
                returncode=3,
            )
        if report.problem:
            raise CommandError(
                f"Consent ledger broken at event #{report.problem.event_id}: {report.problem.reason}. "
                f"{report.checked - 1} event(s) before it are intact.",
                returncode=2,
            )
        waiting = f" {report.unsealed} recent event(s) wait to be sealed." if report.unsealed else ""
        self.stdout.write(self.style.SUCCESS(f"Consent ledger intact: {report.checked} event(s) verified.{waiting}"))
