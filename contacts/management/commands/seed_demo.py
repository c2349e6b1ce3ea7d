"""`manage.py seed_demo`: demo data for trying the product; running it again changes nothing."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from contacts.models import ConsentMethod, Program, ProgramKeyword, Tag
from contacts.services import consent_opt_in, consent_opt_out, contact_get_or_create

DEMO_LOGIN_FILE = settings.BASE_DIR / "var" / "demo-login.txt"
ADMIN_USERNAME = "admin"

PROGRAM = {
    "brand": "Acme Deals",
    "name": "Weekly offers",
    "description": "Weekly offers and coupons from Acme stores.",
    "frequency_text": "Up to 4 msgs/month",
    "help_contact": "help@acme.example",
    "terms_url": "https://acme.example/terms",
    "privacy_url": "https://acme.example/privacy",
    "double_opt_in": True,
}
# Fictional 555-01xx numbers in real area codes: valid for the number rules, owned by nobody.
CONTACTS = [
    ("+14155550101", "Ada", "Lovelace", "web"),
    ("+13055550102", "Grace", "Hopper", "keyword"),
    ("+12125550103", "Alan", "Turing", "import"),
    ("+15125550104", "Edsger", "Dijkstra", "opted_out"),
]


class Command(BaseCommand):
    help = "Load demo data: an admin login, the deals program, contacts with consent evidence, a draft campaign."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Only seed a database without users; still print the login."
        )

    def handle(self, *args, if_empty=False, **options):
        if if_empty and get_user_model().objects.exists():
            if DEMO_LOGIN_FILE.exists():
                username, password = DEMO_LOGIN_FILE.read_text().strip().split(":", 1)
                self.stdout.write(f"Demo admin login: {username} / {password}")
            else:
                self.stdout.write("Admin login: the database already has users (manage.py createsuperuser adds one).")
            return
        with transaction.atomic():
            username, password = self._admin()
            program = self._program()
            self._contacts(program)
            self._campaign(program)
        self.stdout.write(f"Demo admin login: {username} / {password}")

    def _admin(self) -> tuple[str, str]:
        User = get_user_model()
        user = User.objects.filter(username=ADMIN_USERNAME).first()
        if user and DEMO_LOGIN_FILE.exists():
            return ADMIN_USERNAME, DEMO_LOGIN_FILE.read_text().split(":", 1)[1].strip()
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(ADMIN_USERNAME, email="admin@example.com", password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        DEMO_LOGIN_FILE.parent.mkdir(exist_ok=True)
        DEMO_LOGIN_FILE.write_text(f"{ADMIN_USERNAME}:{password}\n")
        DEMO_LOGIN_FILE.chmod(0o600)
        return ADMIN_USERNAME, password

    def _program(self) -> Program:
        program, _ = Program.objects.get_or_create(slug="deals", defaults=PROGRAM)
        ProgramKeyword.objects.get_or_create(keyword="DEALS", defaults={"program": program})
        return program

    def _contacts(self, program: Program) -> None:
        vip, _ = Tag.objects.get_or_create(name="vip")
        disclosure = (
            f"By checking this box I agree to receive recurring automated marketing texts from {program.brand} "
            f"at this number. Consent is not a condition of purchase. {program.frequency_text}. "
            "Msg & data rates may apply. Reply STOP to opt out, HELP for help."
        )
        for phone, first, last, how in CONTACTS:
            contact, created = contact_get_or_create(phone=phone, first_name=first, last_name=last)
            if not created or contact.consent_events.exists():
                continue
            if how == "keyword":
                evidence = {"message_sid": "SMdemo" + "0" * 28, "body": "DEALS"}
                consent_opt_in(contact=contact, program=program, method=ConsentMethod.KEYWORD, evidence=evidence)
                continue
            if how == "import":
                evidence = {"reason": "Paper sign-up sheet, store #12 (demo)", "consented_at": "2025-01-15T10:00:00Z"}
                consent_opt_in(contact=contact, program=program, method=ConsentMethod.IMPORT, evidence=evidence)
                contact.tags.add(vip)
                continue
            consent_opt_in(
                contact=contact,
                program=program,
                method=ConsentMethod.WEB_FORM,
                evidence={
                    "disclosure": disclosure,
                    "disclosure_sha256": hashlib.sha256(disclosure.encode()).hexdigest(),
                    "form_url": f"{settings.PUBLIC_BASE_URL}/join/{program.slug}/",
                    "ip": "203.0.113.7",
                    "user_agent": "Mozilla/5.0 (demo)",
                    "confirmed_by": "YES reply (demo)",
                },
            )
            if how == "opted_out":
                consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP please"})

    def _campaign(self, program: Program) -> None:
        from campaigns.models import Campaign, CampaignStatus

        Campaign.objects.get_or_create(
            name="Spring sale (demo)",
            defaults={
                "program": program,
                "body": "Hi {{ first_name|default:'there' }}, 20% off everything this weekend at Acme.",
                "status": CampaignStatus.DRAFT,
            },
        )
