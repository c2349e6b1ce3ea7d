"""`manage.py verify_ledger [--state]`: check the consent ledger's chain, its anchors and (--state) subscriptions."""

from django.core.management.base import BaseCommand, CommandError

from contacts.anchors import anchor_sink
from contacts.ledger import ProblemKind, ledger_check, subscriptions_check

EXIT_CODES = {ProblemKind.BROKEN: 2, ProblemKind.UNSEALED: 3, ProblemKind.ANCHORS: 4, ProblemKind.STATE: 5}


class Command(BaseCommand):
    help = (
        "Check the consent ledger: positions run 1, 2, 3… with no gap, every hash matches its event under "
        "LEDGER_HMAC_KEY, every anchor outside the database matches the chain and the chain's head is anchored. "
        "With --state, also replay every contact's events and compare each subscription with the result. "
        "Run it where the anchors are (LEDGER_ANCHOR_FILE, or the sink LEDGER_ANCHOR_SINK names) with the "
        "sealer's key. Exit codes: 0 intact; 1 the command itself failed; 2 an event was changed, removed or "
        "moved (the first is named); 3 an event has waited longer than LEDGER_SEAL_OVERDUE_SECONDS to be sealed; "
        "4 the chain disagrees with its anchors (events removed at the head, the ledger truncated, events added "
        "at the head, or the anchors unreadable); 5 (--state) a subscription disagrees with the ledger (the "
        "first is named)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--state", action="store_true", help="Also recompute every subscription from the ledger's events."
        )
        parser.add_argument("--chunk-size", type=int, default=5000, help="Rows read per database round trip.")

    def handle(self, *args, state, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        report = ledger_check(chunk_size=chunk_size)
        problem = report.problem
        if problem and problem.kind == ProblemKind.BROKEN:
            self._fail(
                problem,
                f"Consent ledger broken at event #{problem.event_id}: {problem.reason}. "
                f"{report.checked - 1} event(s) before it are intact.",
            )
        if problem and problem.kind == ProblemKind.ANCHORS:
            self._fail(problem, f"Consent ledger disagrees with its anchors ({anchor_sink()}): {problem.reason}.")
        if problem:
            self._fail(
                problem,
                f"Consent ledger incomplete at event #{problem.event_id}: {problem.reason} "
                f"The {report.checked} sealed event(s) are intact.",
            )
        waiting = f" {report.unsealed} recent event(s) wait to be sealed." if report.unsealed else ""
        anchored = f" The head (position {report.head}) matches its anchor." if report.head else ""
        self.stdout.write(
            self.style.SUCCESS(f"Consent ledger intact: {report.checked} event(s) verified.{waiting}{anchored}")
        )
        if state:
            replayed = subscriptions_check(chunk_size=chunk_size)
            if problem := replayed.problem:
                self._fail(problem, f"Subscriptions disagree with the consent ledger: {problem.reason}.")
            self.stdout.write(
                self.style.SUCCESS(f"Subscriptions agree with the ledger: {replayed.checked} subscription(s) replayed.")
            )

    def _fail(self, problem, message):
        raise CommandError(message, returncode=EXIT_CODES[problem.kind])
