"""Public opt-in pages: /join/<slug>/ and /join/<slug>/thanks/."""

import logging

from django.conf import settings
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from contacts.models import Program
from contacts.phones import phone_digest
from contacts.services import client_ip, evidence_from_request
from messaging.selectors import our_numbers

from .disclosure import disclosure_compose
from .forms import OptOutForm, SignupForm
from .ratelimit import rate_limit_exceeded
from .services import signup_submit, web_opt_out

log = logging.getLogger(__name__)

CONFIRM_CODE_SESSION_KEY = "signup:confirm_code"


def _active_program(slug: str) -> Program:
    return get_object_or_404(Program, slug=slug, is_active=True)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def signup_page(request, slug):
    program = _active_program(slug)
    disclosure = disclosure_compose(program)
    if request.method == "GET":
        form = SignupForm(program=program, disclosure=disclosure)
        return _render_form(request, program, disclosure, form)

    form = SignupForm(request.POST, program=program, disclosure=disclosure)
    ip = client_ip(request)
    if rate_limit_exceeded(scope="signup-ip", key=ip, rate=settings.SIGNUP_RATE_LIMIT_PER_IP):
        log.warning("sign-up for program %s blocked: too many attempts from %s", program.pk, ip)
        return _render_blocked(request, program, disclosure, form)
    if not form.is_valid():
        return _render_form(request, program, disclosure, form)
    phone = form.cleaned_data["phone"]
    # Counted only for complete sign-ups: this limit protects the number's owner from text bombing.
    digest = phone_digest(phone)
    if rate_limit_exceeded(scope="signup-phone", key=digest, rate=settings.SIGNUP_RATE_LIMIT_PER_PHONE):
        log.warning("sign-up for program %s blocked: too many attempts for number %s…", program.pk, digest[:12])
        return _render_blocked(request, program, disclosure, form)

    outcome = signup_submit(
        program=program,
        phone=phone,
        first_name=form.cleaned_data.get("first_name", ""),
        disclosure=disclosure,
        request_evidence=evidence_from_request(request),
        age_gate=form.age_gate_result(),
    )
    # The same page whatever the number's history (it must not tell a stranger whether it ever opted out);
    # a repeat sign-up keeps the code of the first.
    if outcome.event is not None:
        request.session[CONFIRM_CODE_SESSION_KEY] = outcome.event.evidence.get("confirm_code", "")
    return redirect("signup:thanks", slug=program.slug)


def _render_form(request, program, disclosure, form, *, blocked_message="", status=200):
    context = {"program": program, "disclosure": disclosure, "form": form, "blocked_message": blocked_message}
    return render(request, "signup/join.html", context, status=status)


def _render_blocked(request, program, disclosure, form):
    message = _("Too many sign-up attempts. Nothing was sent. Please try again later.")
    return _render_form(request, program, disclosure, form, blocked_message=message, status=429)


@require_GET
def signup_thanks(request, slug):
    program = _active_program(slug)
    context = {
        "program": program,
        "pending_hours": settings.CONSENT_PENDING_EXPIRY_HOURS,
        "confirm_code": request.session.get(CONFIRM_CODE_SESSION_KEY, ""),
        "our_number": next(iter(sorted(our_numbers())), ""),
    }
    return render(request, "signup/thanks.html", context)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def optout_page(request):
    """Stop texts from the web: a number, one button. The answer never says whether it was subscribed."""
    form = OptOutForm(request.POST or None)
    page = {"form": form, "brand": settings.SMS_DEFAULT_BRAND}
    if request.method == "GET":
        return render(request, "signup/optout.html", page)
    ip = client_ip(request)
    if rate_limit_exceeded(scope="optout-ip", key=ip, rate=settings.OPTOUT_RATE_LIMIT_PER_IP):
        log.warning("web opt-out blocked: too many attempts from %s", ip)
        message = _("Too many requests from here. Please try again later, or reply STOP to any of our texts.")
        return render(request, "signup/optout.html", {**page, "blocked_message": message}, status=429)
    if not form.is_valid():
        return render(request, "signup/optout.html", page)
    phone = form.cleaned_data["phone"]
    # Per number, so nobody can make one phone buzz with confirmations: past the limit the number was
    # opted out moments ago already, and nothing more is recorded or sent.
    if rate_limit_exceeded(scope="optout-phone", key=phone_digest(phone), rate=settings.OPTOUT_RATE_LIMIT_PER_PHONE):
        log.warning("web opt-out for number %s… over its limit", phone_digest(phone)[:12])
        return render(request, "signup/optout.html", {**page, "done": True})
    web_opt_out(phone=phone, request_evidence=evidence_from_request(request))
    return render(request, "signup/optout.html", {**page, "done": True})
