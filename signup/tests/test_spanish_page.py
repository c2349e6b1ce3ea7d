"""The sign-up pages in Spanish, read in a real browser: every string on them is Spanish.

Only what staff wrote themselves (brand, program name and description, help
contact) may stay in their language. A common frequency wording ("Up to 4
msgs/month") is part of the disclosure, so it is said in Spanish too.
"""

import re

import pytest

from contacts.tests.factories import make_program
from testing.browser import PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Every piece of text a person can see or hear: text nodes, and the attributes screen readers and browsers show.
PAGE_TEXTS = """() => {
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (parent && !parent.closest('script, style, .hp')) texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll('[placeholder], [aria-label], [title], [alt], input[type=submit]')) {
    for (const attr of ['placeholder', 'aria-label', 'title', 'alt', 'value']) {
      if (el.hasAttribute(attr) && (attr !== 'value' || el.type === 'submit')) texts.push(el.getAttribute(attr));
    }
  }
  // Sentence by sentence: one text node can hold a program's words and ours ("Up to 4 msgs/month. Después…").
  return texts.flatMap(t => t.replace(/\\s+/g, ' ').split(/(?<=[.!?])\\s+/)).map(t => t.trim()).filter(t => t);
}"""


def _visit_every_state(page, base: str) -> list[str]:
    """The form, the form with every kind of error (a UK number among them), and the thanks page."""
    texts = []
    page.goto(f"{base}/join/wine/")
    texts += page.evaluate(PAGE_TEXTS)
    page.locator("#id_phone").fill("07911 123456")
    page.locator("#id_date_of_birth").fill("2015-01-01")
    page.locator("button[type=submit].primary").click()
    page.wait_for_selector("#form-alert")
    texts += page.evaluate(PAGE_TEXTS)
    page.goto(f"{base}/join/wine/thanks/")
    texts += page.evaluate(PAGE_TEXTS)
    return texts


def test_every_string_on_the_spanish_sign_up_pages_is_spanish(live_server, browser):
    program = make_program(slug="wine", brand="Zed Wines", name="Cellar club", age_gated=True, double_opt_in=True,
                           description="Tastings and offers.", help_contact="help@zed.test")  # fmt: skip
    staff_wrote = [program.brand, program.name, program.description, program.help_contact]

    def in_spanish(page):
        texts = _visit_every_state(page, live_server.url)
        page.goto(f"{live_server.url}/join/wine/")
        screenshot(page, "join-es-phone")
        page.locator("#id_phone").fill("07911 123456")
        page.locator("button[type=submit].primary").click()
        page.wait_for_selector("#form-alert")
        screenshot(page, "join-es-errors-phone")
        return texts, page.locator("#id_phone_error").inner_text()

    spanish, uk_error = browser.run(in_spanish, viewport=PHONE, locale="es-US")
    english = browser.run(lambda page: _visit_every_state(page, live_server.url), viewport=PHONE, locale="en-US")

    # The same words in both languages: names, numbers, keywords, and "Error:", which is Spanish too.
    same_in_both = {"Error:", "English", "Español", ".", "·", "YES", "STOP", "HELP"}

    def staff_only(text: str) -> bool:
        rest = text
        for words in staff_wrote:
            rest = rest.replace(words, "")
        return not re.search(r"[A-Za-z]{3,}", rest)

    untranslated = sorted({t for t in spanish if t in set(english) and t not in same_in_both and not staff_only(t)})
    assert untranslated == []
    assert "Hasta 4 mensajes al mes" in " ".join(spanish)
    assert uk_error.endswith("Solo enviamos mensajes a números de: Estados Unidos, Canadá.")
