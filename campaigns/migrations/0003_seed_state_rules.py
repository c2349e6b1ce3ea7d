"""Seed the state sending windows and caps from the compliance rules; staff edit them in the admin."""

import datetime

from django.db import migrations

T = datetime.time
RULES = [
    # region, start, end, sunday window, no_sundays, cap, source
    ("FL", T(8), T(20), None, False, 3, "Florida Telephone Solicitation Act"),
    ("OK", T(8), T(20), None, False, 3, "Oklahoma Telephone Solicitation Act"),
    ("MD", T(8), T(20), None, False, 3, "Maryland Stop the Spam Calls Act"),
    ("CT", T(9), T(20), None, False, None, "Connecticut telemarketing law"),
    ("WA", T(8), T(20), None, False, None, "Washington telephone solicitation law"),
    ("TX", T(9), T(21), (T(12), T(21)), False, None, "Texas Business and Commerce Code"),
    ("AL", T(8), T(20), None, True, None, "Alabama telephone solicitation law (also no holidays)"),
    ("LA", T(8), T(20), None, True, None, "Louisiana telephone solicitation law (also no holidays)"),
    ("MS", T(8), T(20), None, True, None, "Mississippi telephone solicitation law"),
]


def seed(apps, schema_editor):
    StateRule = apps.get_model("campaigns", "StateRule")
    for region, start, end, sunday, no_sundays, cap, source in RULES:
        StateRule.objects.get_or_create(
            region=region,
            defaults={
                "start": start,
                "end": end,
                "sunday_start": sunday[0] if sunday else None,
                "sunday_end": sunday[1] if sunday else None,
                "no_sundays": no_sundays,
                "frequency_cap_count": cap,
                "frequency_cap_hours": 24,
                "source": source,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("campaigns", "StateRule").objects.filter(region__in=[r[0] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_sending_state_and_state_rules")]

    operations = [migrations.RunPython(seed, unseed)]
