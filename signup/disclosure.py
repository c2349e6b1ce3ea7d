"""The consent disclosure shown beside the checkbox, composed from a program's fields.

One composition serves the public page, the evidence snapshot and the admin
preview, so what staff preview, what people read and what the ledger proves
are the same words. Compose it with the person's language active.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from messaging.texts import frequency_localize


@dataclass(frozen=True)
class Disclosure:
    language: str
    sentences: tuple[str, ...]
    links: tuple[tuple[str, str], ...]  # (label, url)

    @property
    def text(self) -> str:
        """The canonical plain text: what is hashed and stored as evidence (links spelled out)."""
        links = " ".join(f"{label}: {url}" for label, url in self.links)
        return " ".join((*self.sentences, links)).strip()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def html(self) -> SafeString:
        sentences = format_html_join(" ", "{}", ((s,) for s in self.sentences))
        links = format_html_join(" · ", "{}", ((_link(label, url),) for label, url in self.links))
        return format_html(
            '<span class="disclosure-text">{}</span> <span class="disclosure-links">{}</span>', sentences, links
        )


def _link(label: str, url: str) -> SafeString:
    # The admin preview renders unsaved values; only web addresses become links.
    if url.lower().startswith(("https://", "http://")):
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, label)
    return format_html("{}: {}", label, url)


def _sentence(value: str) -> str:
    value = " ".join(str(value).split())
    return value if not value or value[-1] in ".!?" else value + "."


def disclosure_compose(program) -> Disclosure:
    """The disclosure for `program` in the active language (program fields stay as staff wrote them)."""
    sentences = [
        _(
            "By checking this box, I agree to receive recurring automated marketing text messages "
            "from %(brand)s (%(name)s) at the phone number I entered."
        )
        % {"brand": program.brand, "name": program.name},
        _sentence(program.description),
        _sentence(frequency_localize(program.frequency_text)),
        _("Msg & data rates may apply."),
        _("Reply STOP to opt out, HELP for help."),
        _("Consent is not a condition of purchase."),
    ]
    links = ((_("Terms"), program.terms_url), (_("Privacy Policy"), program.privacy_url))
    return Disclosure(
        language=translation.get_language() or settings.LANGUAGE_CODE,
        sentences=tuple(s for s in sentences if s),
        links=tuple((label, url) for label, url in links if url),
    )
