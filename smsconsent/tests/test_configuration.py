"""Configuration that production depends on: proxies trusted only when said, secrets masked, keys long enough,
and security headers on every page."""

import secrets
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

from smsconsent.error_reports import UrlPasswordSafeExceptionReporterFilter, url_password_mask
from smsconsent.tests.test_settings import PRODUCTION_ENV, _manage

# Made at run time: error pages show source lines, so a password written here would appear on them anyway.
REDIS_PASSWORD = secrets.token_hex(12)
REDIS_WITH_PASSWORD = f"redis://:{REDIS_PASSWORD}@redis.example.com:6379/0"


def _probe(expression: str, **env) -> str:
    done = _manage("shell", "-c", f"from django.conf import settings; print({expression})",
                   env={**PRODUCTION_ENV, **env})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


# --- SECURE_PROXY_SSL_HEADER --------------------------------------------------------------------


def test_the_forwarded_proto_header_is_trusted_only_when_a_setting_says_a_proxy_sets_it():
    assert _probe("getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)") == "None"
    with_proxy = _probe("settings.SECURE_PROXY_SSL_HEADER", TRUSTED_PROXY_PROTO_HEADER="HTTP_X_FORWARDED_PROTO")
    assert with_proxy == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_https_header_is_still_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/healthz", HTTP_X_FORWARDED_PROTO="https").status_code == 200


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TRUSTED_PROXY_IP_HEADER": "HTTP_X_FORWARDED_FOR", "TRUSTED_PROXY_COUNT": "0"},
         "TRUSTED_PROXY_COUNT must be at least 1"),
        # A short key lets anyone holding the suppression list recover the numbers: say how to make a good one.
        ({"SUPPRESSION_HMAC_KEY": "short-key"},
         "SUPPRESSION_HMAC_KEY must be at least 32 characters when DEBUG=0 (it has 9)"),
        ({"SUPPRESSION_HMAC_KEY": "short-key"}, "secrets.token_urlsafe(48)"),
    ],
)  # fmt: skip
def test_production_refuses_to_start_with_a_setting_it_cannot_trust(env, says):
    done = _manage("check", env={**PRODUCTION_ENV, **env})
    assert done.returncode != 0
    assert says in done.stderr


def test_a_suppression_key_of_32_characters_is_enough():
    assert _manage("check", env={**PRODUCTION_ENV, "SUPPRESSION_HMAC_KEY": "k" * 32}).returncode == 0


# --- Secrets on error pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (REDIS_WITH_PASSWORD, "redis://:********************@redis.example.com:6379/0"),
        ("rediss://default:p%40ss@10.0.0.5:6380/1", "rediss://default:********************@10.0.0.5:6380/1"),
        ("postgres://app:pw@db:5432/sms", "postgres://app:********************@db:5432/sms"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),  # nothing secret: unchanged
        ("redis://user@host/0", "redis://user@host/0"),
        ("not a url @ all", "not a url @ all"),
        ("http://[::1:6379/0@", "http://[::1:6379/0@"),  # unparsable: left alone, no crash
    ],
)
def test_passwords_inside_urls_are_masked(url, masked):
    assert url_password_mask(url, "*" * 20) == masked


def test_the_redis_password_is_masked_in_the_settings_error_reports_show(settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = REDIS_WITH_PASSWORD
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": REDIS_WITH_PASSWORD}}
    shown = repr(UrlPasswordSafeExceptionReporterFilter().get_safe_settings())
    assert REDIS_PASSWORD not in shown
    assert "redis.example.com" in shown  # still says where Redis is


def test_the_debug_error_page_shows_no_redis_password(settings):
    settings.DEBUG = True
    settings.REDIS_URL = settings.CELERY_BROKER_URL = REDIS_WITH_PASSWORD
    # Under runserver the process environment is part of request.META, and the page lists it.
    request = RequestFactory().get("/boom", REDIS_URL=REDIS_WITH_PASSWORD)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
    assert "boom" in page and "redis.example.com" in page
    assert REDIS_PASSWORD not in page


# --- Security headers ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/join/deals/", "/healthz"])
def test_every_page_carries_a_content_security_policy_and_a_permissions_policy(client, path):
    from contacts.tests.factories import make_program

    make_program(slug="deals")
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions
