"""Snapshots of the disclosure text people agreed to on the public forms.

A consent event points at the exact words the person saw. Programs change;
snapshots don't: editing a program produces a new version on the next
sign-up, and old evidence keeps pointing at the old one.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DisclosureVersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise DisclosureImmutableError("Disclosure versions are never edited.")

    def delete(self):
        raise DisclosureImmutableError("Disclosure versions are never deleted.")

    update.queryset_only = True
    delete.queryset_only = True


class DisclosureImmutableError(Exception):
    pass


class DisclosureVersion(models.Model):
    """The exact disclosure text of one program in one language, identified by its sha256."""

    program = models.ForeignKey("contacts.Program", on_delete=models.PROTECT, related_name="disclosure_versions")
    language = models.CharField(max_length=10)
    text = models.TextField(editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = DisclosureVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "language", "sha256"], name="one_disclosure_version_per_text")
        ]
        verbose_name = _("disclosure version")

    def __str__(self):
        return f"{self.program} · {self.language} · {self.sha256[:12]}"

    def save(self, *args, **kwargs):
        # Evidence points here; a changed row would change what old consent says.
        if self.pk is not None:
            raise DisclosureImmutableError("Disclosure versions are never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise DisclosureImmutableError("Disclosure versions are never deleted.")
