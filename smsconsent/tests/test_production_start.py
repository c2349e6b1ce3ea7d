"""With DEBUG=0 the production start (migrate, collectstatic, gunicorn) serves the admin and its static files.

Without `collectstatic` every page using a static file was a 500: the manifest storage production
uses can't name a file that was never collected.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model

from contacts.tests.factories import make_contact, make_program
from testing.ports import free_port
from testing.worker import process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(settings.BASE_DIR)
PASSWORD = "a-long-production-test-password"


@pytest.fixture
def production(tmp_path):
    """The documented production start against this test's database: collectstatic, then gunicorn, DEBUG=0."""
    port = free_port()
    env = process_env(
        DEBUG="0",
        SECRET_KEY="production-test-secret-key-" + "x" * 40,
        SUPPRESSION_HMAC_KEY=settings.SUPPRESSION_HMAC_KEY.ljust(32, "k"),
        LEDGER_HMAC_KEY="production-test-ledger-key-" + "l" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        STATIC_ROOT=str(tmp_path / "static"),
        TRUSTED_PROXY_PROTO_HEADER="HTTP_X_FORWARDED_PROTO",  # the test plays the TLS-terminating proxy
        SMS_BACKEND="locmem",
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "smsconsent.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(base + "/healthz", timeout=5, headers=HTTPS).status_code == 200
        except requests.RequestException:  # not listening yet, or still booting
            return server.poll() is not None  # died: stop waiting, the assertion below says so

    try:
        wait_until(answers, timeout=60, message="gunicorn to answer /healthz")
        assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


HTTPS = {"X-Forwarded-Proto": "https"}


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_admin_login_and_a_logged_in_change_list_render_with_their_static_files(production):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    contact = make_contact(first_name="Ana")
    session = requests.Session()

    login_page = session.get(production + "/admin/login/", headers=HTTPS, timeout=30)
    assert login_page.status_code == 200, login_page.text[:2000]
    assert "Content-Security-Policy" in login_page.headers
    assets = _assets(login_page.text)
    assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css", a) for a in assets)  # hashed, cacheable
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    # Cookies are Secure in production; the test speaks plain HTTP behind its pretend proxy, so it sends them itself.
    cookies = {c.name: c.value for c in session.cookies}
    logged_in = requests.post(
        production + "/admin/login/?next=/admin/contacts/contact/",
        data={"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={**HTTPS, "Referer": production.replace("http://", "https://") + "/admin/login/"}, cookies=cookies,
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert logged_in.status_code == 302, logged_in.text[:2000]
    cookies.update({c.name: c.value for c in logged_in.cookies})

    change_list = requests.get(production + "/admin/contacts/contact/", headers=HTTPS, cookies=cookies, timeout=30)
    assert change_list.status_code == 200
    assert str(contact.phone) in change_list.text
    assets += _assets(change_list.text)
    for asset in sorted(set(assets)):
        response = requests.get(production + asset, headers=HTTPS, timeout=30)
        assert response.status_code == 200, asset


def test_the_public_sign_up_page_renders_with_debug_off(production):
    make_program(slug="deals")
    page = requests.get(production + "/join/deals/", headers=HTTPS, timeout=30)
    assert page.status_code == 200
    css = [a for a in _assets(page.text) if a.endswith(".css")]
    assert css and all(requests.get(production + a, headers=HTTPS, timeout=30).status_code == 200 for a in css)


def test_a_plain_http_request_is_sent_to_https(production):
    response = requests.get(production + "/admin/login/", timeout=10, allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")
