"""Every role × every admin page and action: who may see and who may do what.

The pages and actions are read from the admin itself (every URL pattern of the
admin site, every ModelAdmin's actions), so a page or action added later fails
this test until the policy below says who may use it.

The policy is written from the roles' side, in plain sets, and is checked over
HTTP as each role's user. Superusers are not a role and are left out.
"""

from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, reverse
from django.utils import timezone

from campaigns.models import Campaign, StateRule
from contacts.models import ConsentMethod, Subscription, Tag
from contacts.services import consent_opt_in, number_suppress
from messaging.models import InboundClassification, InboundMessage, KeywordRule, MessageKind, OutboundMessage
from signup.disclosure import disclosure_compose
from signup.services import disclosure_version_get_or_create
from smsconsent.roles import roles_collect
from testing.users import AUDITOR, MARKETING, SUPPORT, staff_user_make

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db

M, S, A = MARKETING, SUPPORT, AUDITOR
NO_ROLE = "staff without a role"
ROLES = (M, S, A, NO_ROLE)
EVERYONE = frozenset(ROLES)
STAFF_ROLES = frozenset({M, S, A})
NOBODY = frozenset()  # superusers only, or nobody at all


@dataclass(frozen=True)
class ModelPolicy:
    view: frozenset = NOBODY  # the list, each record and its history
    add: frozenset = NOBODY
    change: frozenset = NOBODY
    delete: frozenset = NOBODY


# Who may see and do what, per model admin ("app_label.model_name").
MODELS = {
    "auth.group": ModelPolicy(),
    "auth.user": ModelPolicy(),
    "axes.accessattempt": ModelPolicy(),
    "axes.accesslog": ModelPolicy(),
    "axes.accessfailurelog": ModelPolicy(),
    "contacts.contact": ModelPolicy(view=frozenset({M, S, A}), add=frozenset({S}), change=frozenset({S})),
    "contacts.tag": ModelPolicy(view=frozenset({M, S, A}), add=frozenset({M}), change=frozenset({M})),
    "contacts.suppressednumber": ModelPolicy(view=frozenset({S, A}), add=frozenset({S})),
    "contacts.consentevent": ModelPolicy(view=frozenset({S, A})),
    "contacts.subscription": ModelPolicy(view=frozenset({M, S, A})),
    "contacts.program": ModelPolicy(view=frozenset({M, S, A}), add=frozenset({M}), change=frozenset({M})),
    "signup.disclosureversion": ModelPolicy(view=frozenset({M, S, A})),
    "messaging.outboundmessage": ModelPolicy(view=frozenset({M, S, A})),
    "messaging.inboundmessage": ModelPolicy(view=frozenset({S, A})),
    "messaging.reviewitem": ModelPolicy(view=frozenset({S})),
    "messaging.keywordrule": ModelPolicy(view=frozenset({S, A}), add=frozenset({S}), change=frozenset({S})),
    "campaigns.campaign": ModelPolicy(view=frozenset({M, S, A}), add=frozenset({M}), change=frozenset({M})),
    "campaigns.staterule": ModelPolicy(view=frozenset({M, A})),
}

# Admins where every staff user sees and changes only their own record, whatever their role: checked by
# `test_every_staff_user_sees_and_changes_only_their_own_time_zone`, not by the page-by-page policy.
OWN_RECORDS = {"campaigns.staffpreference"}

# Pages a ModelAdmin adds of its own: admin URL name -> (method, who may, what they get).
CUSTOM_PAGES = {
    "auth_user_password_change": ("GET", NOBODY, 200),
    "contacts_contact_import": ("GET", {S}, 200),
    "contacts_contact_opt_out": ("POST", {S}, 200),  # an empty form: "give a reason"
    "contacts_contact_opt_in": ("POST", {S}, 200),
    "contacts_contact_export": ("GET", {A}, 200),
    "contacts_program_preview": ("GET", {M}, 200),
    "messaging_reviewitem_opt_out": ("POST", {S}, 302),
    "messaging_reviewitem_dismiss": ("POST", {S}, 302),
    "messaging_inboundmessage_reply": ("GET", {S}, 200),
    "campaigns_campaign_preview": ("POST", {M, S, A}, 200),  # reads only
    "campaigns_campaign_progress": ("GET", {M, S, A}, 200),
    "campaigns_campaign_send": ("GET", {M}, 200),
    "campaigns_campaign_schedule": ("GET", {M}, 200),
    "campaigns_campaign_send_test": ("GET", {M}, 200),
    "campaigns_campaign_pause": ("GET", {M}, 302),  # GET only shows the campaign; pausing is a POST
    "campaigns_campaign_resume": ("GET", {M}, 302),
    "campaigns_campaign_cancel": ("GET", {M}, 200),
}

# ModelAdmin actions: (model, action name) -> who may run them. `delete_selected` follows the delete policy.
ACTIONS = {
    ("axes.accessattempt", "cleanup_expired_attempts"): NOBODY,
    ("contacts.contact", "opt_out_selected"): {S},
    ("contacts.consentevent", "export_csv"): {A},
    ("messaging.reviewitem", "opt_out_selected"): {S},
    ("messaging.reviewitem", "dismiss_selected"): {S},
    ("campaigns.campaign", "pause_selected"): {M},
    ("campaigns.campaign", "resume_selected"): {M},
    ("campaigns.campaign", "cancel_selected"): {M},
}

# The admin site's own pages: URL name -> what every staff user gets from a GET (None: checked on its own).
SITE_PAGES = {
    "index": 200,
    "login": 302,  # already logged in: on to the index
    "logout": 405,  # logging out is a POST
    "password_change": 200,
    "password_change_done": 200,
    "jsi18n": 200,
    "view_on_site": 404,  # no model here has a public page
    "autocomplete": None,
    "app_list": None,
}
STANDARD_VIEWS = ("changelist", "add", "change", "delete", "history")


# --- what the admin has ---------------------------------------------------------------------------------


def _admin_url_names() -> list[str]:
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif pattern.name:
                yield pattern.name

    return list(walk(admin.site.get_urls()))


def _model_admins() -> dict[str, admin.ModelAdmin]:
    return {f"{m._meta.app_label}.{m._meta.model_name}": ma for m, ma in admin.site._registry.items()}


def _split(url_name: str) -> tuple[str | None, str]:
    """("app.model", view) for a model admin's page, (None, name) for the site's own."""
    for label in sorted(_model_admins(), key=len, reverse=True):
        prefix = label.replace(".", "_") + "_"
        if url_name.startswith(prefix):
            return label, url_name[len(prefix) :]
    return None, url_name


def test_the_policy_names_every_admin_page_and_action():
    undeclared = []
    for name in _admin_url_names():
        label, view = _split(name)
        if label is None:
            undeclared += [] if view in SITE_PAGES else [f"site page admin:{name}"]
        elif label in OWN_RECORDS:
            continue
        elif label not in MODELS:
            undeclared.append(f"model admin {label}")
        elif view not in STANDARD_VIEWS and name not in CUSTOM_PAGES:
            undeclared.append(f"page admin:{name}")
    for label, model_admin in _model_admins().items():
        for _func, action, _description in model_admin._get_base_actions():
            if action != "delete_selected" and label not in OWN_RECORDS and (label, action) not in ACTIONS:
                undeclared.append(f"action {label}.{action}")
    assert undeclared == [], "say who may use these in contacts/tests/test_roles_matrix.py"


def test_compliance_auditors_hold_only_permissions_that_read():
    declared = roles_collect()[A]
    assert {p for p in declared if not p.split(".")[1].startswith(("view_", "export_"))} == set()
    group = Group.objects.get(name=A)
    assert not group.permissions.exclude(codename__startswith="view_").exclude(codename__startswith="export_").exists()
    for label, policy in MODELS.items():
        assert A not in policy.add | policy.change | policy.delete, label
    for name, (_method, allowed, _status) in CUSTOM_PAGES.items():
        if A in allowed:
            assert name in ("contacts_contact_export", "campaigns_campaign_preview", "campaigns_campaign_progress")
    assert {key for key, allowed in ACTIONS.items() if A in allowed} == {("contacts.consentevent", "export_csv")}


# --- the world each role meets --------------------------------------------------------------------------------


@pytest.fixture
def records():
    """One record behind every admin page: {"app.model": pk}."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    program = make_program(slug="deals")
    contact = make_contact(first_name="Ana")
    event = consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    campaign = Campaign.objects.create(name="Spring sale", program=program, body="Hi {{ first_name }}")
    outbound = OutboundMessage.objects.create(kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact,
                                              to=str(contact.phone), body="Hi Ana")  # fmt: skip
    inbound = InboundMessage.objects.create(
        sid="SM" + "1" * 32, from_number=str(contact.phone), body="please no more", contact=contact,
        classification=InboundClassification.REVIEW, received_at=timezone.now(), review_decision="pending",
    )  # fmt: skip
    attempt = {"user_agent": "test", "ip_address": "192.0.2.1", "username": "x", "http_accept": "*/*",
               "path_info": "/admin/login/"}  # fmt: skip
    return {
        "auth.group": Group.objects.get(name=M).pk,
        "auth.user": get_user_model().objects.create_user("someone-else").pk,
        "axes.accessattempt": AccessAttempt.objects.create(**attempt, failures_since_start=1).pk,
        "axes.accesslog": AccessLog.objects.create(**attempt).pk,
        "axes.accessfailurelog": AccessFailureLog.objects.create(**attempt).pk,
        "contacts.contact": contact.pk,
        "contacts.tag": Tag.objects.create(name="vip").pk,
        "contacts.suppressednumber": number_suppress(phone="+14155550199", reason="test").pk,
        "contacts.consentevent": event.pk,
        "contacts.subscription": Subscription.objects.get(contact=contact, program=program).pk,
        "contacts.program": program.pk,
        "signup.disclosureversion": disclosure_version_get_or_create(
            program=program, disclosure=disclosure_compose(program)
        ).pk,
        "messaging.outboundmessage": outbound.pk,
        "messaging.inboundmessage": inbound.pk,
        "messaging.reviewitem": inbound.pk,
        "messaging.keywordrule": KeywordRule.objects.first().pk,
        "campaigns.campaign": campaign.pk,
        "campaigns.staterule": StateRule.objects.get(region="FL").pk,
    }


def _client_for(role: str) -> Client:
    client = Client()
    client.force_login(staff_user_make(None if role == NO_ROLE else role))
    return client


def _rolled_back(request):
    """Run one request and undo whatever it wrote, so every check meets the same records."""
    with transaction.atomic():
        response = request()
        transaction.set_rollback(True)
    return response


def _page_checks(records) -> list[tuple[str, str, str, dict, set, int | set]]:
    """(what, method, url, data, roles allowed, status when allowed) for every page; others must get 403."""
    checks = []
    for name in _admin_url_names():
        label, view = _split(name)
        if label is None or label in OWN_RECORDS:
            continue
        pk = records[label]
        if view in STANDARD_VIEWS:
            policy = MODELS[label]
            see = policy.view | policy.change
            url = reverse(f"admin:{name}", args=[] if view in ("changelist", "add") else [pk])
            if view in ("changelist", "history"):
                checks.append((f"see {name}", "GET", url, {}, see, 200))
            elif view == "change":
                checks.append((f"see {name}", "GET", url, {}, see, 200))
                checks.append((f"change {name}", "POST", url, {}, policy.change, {200, 302}))  # an empty form
            elif view == "add":
                checks.append((f"see {name}", "GET", url, {}, policy.add, 200))
                checks.append((f"add {name}", "POST", url, {}, policy.add, {200, 302}))
            elif view == "delete":
                checks.append((f"see {name}", "GET", url, {}, policy.delete, 200))
                checks.append((f"delete {name}", "POST", url, {"post": "yes"}, policy.delete, 302))
        else:
            method, allowed, status = CUSTOM_PAGES[name]
            args = [] if name.endswith(("_preview", "_import")) else [pk]
            data = {"program": records["contacts.program"], "body": "Hi"} if name.startswith("campaigns_") else {}
            checks.append((name, method, reverse(f"admin:{name}", args=args), data, allowed, status))
    return checks


def _mismatch(what, response, allowed: bool, expected) -> str | None:
    ok = response.status_code in (expected if isinstance(expected, set) else {expected})
    if allowed and not ok:
        return f"{what}: allowed, expected {expected}, got {response.status_code}"
    if not allowed and response.status_code != 403:
        return f"{what}: refused, expected 403, got {response.status_code}"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_and_does_exactly_what_the_policy_says_on_every_model_page(role, records):
    client = _client_for(role)
    problems = []
    for what, method, url, data, allowed, status in _page_checks(records):
        send = client.get if method == "GET" else client.post
        response = _rolled_back(lambda send=send, url=url, data=data: send(url, data))
        problems.append(_mismatch(what, response, role in allowed, status))
    assert [p for p in problems if p] == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_admin_site_pages_its_models_allow(role, records):
    client = _client_for(role)
    problems = []
    for name, status in SITE_PAGES.items():
        if status is None:
            continue
        args = [ContentType.objects.get_for_model(Tag).pk, records["contacts.tag"]] if name == "view_on_site" else []
        response = client.get(reverse(f"admin:{name}", args=args))
        if response.status_code != status:
            problems.append(f"{name}: expected {status}, got {response.status_code}")
    for app_label in sorted({label.split(".")[0] for label in MODELS}):
        sees_any = any(role in p.view | p.change for label, p in MODELS.items() if label.startswith(app_label + "."))
        sees_any = sees_any or any(label.startswith(app_label + ".") for label in OWN_RECORDS)
        status = client.get(reverse("admin:app_list", args=[app_label])).status_code
        if status != (200 if sees_any else 404):
            problems.append(f"app {app_label}: expected {200 if sees_any else 404}, got {status}")
    # The tag picker on the contact form answers those who may see tags.
    query = {"app_label": "contacts", "model_name": "contact", "field_name": "tags", "term": "v"}
    tags = client.get(reverse("admin:autocomplete"), query)
    may = role in MODELS["contacts.tag"].view
    if tags.status_code != (200 if may else 403):
        problems.append(f"autocomplete tags: expected {200 if may else 403}, got {tags.status_code}")
    assert problems == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_offered_and_can_run_exactly_its_actions(role, records, rf):
    client = _client_for(role)
    user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    problems = []
    for label, model_admin in _model_admins().items():
        if label in OWN_RECORDS:
            continue
        request = rf.get("/")
        request.user = user
        offered = set(model_admin.get_actions(request)) if model_admin.has_view_or_change_permission(request) else set()
        for _func, action, _description in model_admin._get_base_actions():
            allowed = role in (MODELS[label].delete if action == "delete_selected" else ACTIONS[(label, action)])
            if (action in offered) != allowed:
                problems.append(f"{label}.{action}: {'not ' if allowed else ''}offered")
            url = reverse(f"admin:{label.replace('.', '_')}_changelist")
            data = {"action": action, ACTION_CHECKBOX_NAME: [records[label]], "index": 0}
            client.cookies.pop("messages", None)  # only this request's messages count
            response = _rolled_back(lambda url=url, data=data: client.post(url, data))
            ran = _action_ran(response)
            if ran != allowed:
                problems.append(f"{label}.{action}: {'did not run' if allowed else 'ran'} ({response.status_code})")
    assert problems == []


def _action_ran(response) -> bool:
    """Refused actions end in a 403, in "No action selected.", or in the plain list with nothing done."""
    if response.status_code == 403:
        return False
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    if "No action selected." in notes:
        return False
    plain_list = response.templates and response.templates[0].name.endswith("change_list.html")
    return not (response.status_code == 200 and plain_list)


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_user_sees_and_changes_only_their_own_time_zone(role):
    from campaigns.models import StaffPreference

    someone = get_user_model().objects.create_user("someone-else-tz", is_staff=True)
    theirs = StaffPreference.objects.create(user=someone, time_zone="Europe/Paris")
    client = _client_for(role)
    mine = client.get(reverse("admin:campaigns_staffpreference_changelist"))
    assert mine.status_code == 302 and mine["Location"].endswith("/add/")
    assert client.get(reverse("admin:campaigns_staffpreference_add")).status_code == 200
    for name in ("change", "delete"):
        response = client.get(reverse(f"admin:campaigns_staffpreference_{name}", args=[theirs.pk]))
        assert response.status_code != 200, f"{role} reached another user's time zone ({name})"
    client.post(reverse("admin:campaigns_staffpreference_change", args=[theirs.pk]), {"time_zone": "UTC"})
    theirs.refresh_from_db()
    assert theirs.time_zone == "Europe/Paris"
