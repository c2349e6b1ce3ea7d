"""5. Admin at scale: the pages staff use most, timed in-process with Django's test client (warm cache)."""

import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, SubscriptionStatus

from .cases import percentile

WARMUP = 3
SAMPLES = 20


def _time(client: Client, url: str, method: str = "get", data=None) -> dict:
    def once():
        started = time.perf_counter()
        response = getattr(client, method)(url, data=data) if data is not None else getattr(client, method)(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return elapsed

    for _ in range(WARMUP):
        once()
    samples = [once() for _ in range(SAMPLES)]
    return {"url": url, "p50_ms": round(percentile(samples, 50), 1), "p95_ms": round(percentile(samples, 95), 1)}


def case_admin(*, campaign_id: int) -> dict:
    from campaigns.models import Campaign

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    campaign = Campaign.objects.get(pk=campaign_id)
    middle = Contact.objects.filter(pk__gte=Contact.objects.order_by("-pk").values_list("pk", flat=True)[0] // 2)
    phone = middle.order_by("pk").values_list("phone", flat=True)[0]
    national = f"({str(phone)[2:5]}) {str(phone)[5:8]}-{str(phone)[8:]}"
    changelist = reverse("admin:contacts_contact_changelist")
    pages = {
        "contacts: search by phone": _time(client, f"{changelist}?q={national}"),
        "contacts: search by last four digits": _time(client, f"{changelist}?q={str(phone)[-4:]}"),
        "contacts: search by first name": _time(client, f"{changelist}?q=Ana"),
        "contacts: filter by consent": _time(
            client, f"{changelist}?program={campaign.program_id}&consent={SubscriptionStatus.OPTED_OUT}"
        ),
        "campaign change page": _time(client, reverse("admin:campaigns_campaign_change", args=[campaign_id])),
    }
    # The live preview as staff type: the counts are cached between keystrokes, as in the browser.
    preview = reverse("admin:campaigns_campaign_preview")
    pages["campaign live preview"] = _time(
        client, preview, "post", {"campaign_id": campaign_id, "body": campaign.body + " Hurry!"}
    )
    return {"pages": pages, "samples": SAMPLES}
