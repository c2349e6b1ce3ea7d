import pytest
from django.urls import reverse

from campaigns.models import StateRule


@pytest.mark.django_db
def test_staff_can_edit_a_state_window_in_the_admin(admin_client):
    rule = StateRule.objects.get(region="FL")
    page = admin_client.get(reverse("admin:campaigns_staterule_changelist"))
    assert page.status_code == 200 and b"FL" in page.content
    change = reverse("admin:campaigns_staterule_change", args=[rule.pk])
    response = admin_client.post(
        change,
        {"region": "FL", "source": rule.source, "start": "09:00", "end": "20:00", "sunday_start": "",
         "sunday_end": "", "frequency_cap_count": "2", "frequency_cap_hours": "24"},
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (str(rule.start), rule.frequency_cap_count) == ("09:00:00", 2)


@pytest.mark.django_db
def test_a_window_that_ends_before_it_starts_is_refused(admin_client):
    rule = StateRule.objects.get(region="TX")
    change = reverse("admin:campaigns_staterule_change", args=[rule.pk])
    response = admin_client.post(
        change, {"region": "TX", "start": "21:00", "end": "09:00", "frequency_cap_hours": "24"}
    )
    assert response.status_code == 200
    rule.refresh_from_db()
    assert str(rule.start) == "09:00:00"
