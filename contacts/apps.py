from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"

    def ready(self):
        from smsconsent.roles import roles_post_migrate

        # Once per migrate (contacts' own post_migrate), after which every app's permissions exist.
        post_migrate.connect(roles_post_migrate, sender=self, dispatch_uid="smsconsent.roles_sync")
        import smsconsent.checks  # noqa: F401  (registers the project's system checks)

        from . import checks  # noqa: F401  (registers the checks of the settings this app owns)
