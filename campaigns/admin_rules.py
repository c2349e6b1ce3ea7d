"""Admin for the state sending rules (quiet-hour windows and caps are editable data).

Imported from `campaigns/admin.py`, which registers the campaign screens.
"""

from django.contrib import admin

from .models import StateRule


@admin.register(StateRule)
class StateRuleAdmin(admin.ModelAdmin):
    list_display = ["region", "start", "end", "sunday_start", "sunday_end", "no_sundays", "frequency_cap_count",
                    "frequency_cap_hours", "updated_at"]  # fmt: skip
    list_editable = ["start", "end", "no_sundays", "frequency_cap_count"]
    search_fields = ["region", "source"]
    fieldsets = [
        (None, {"fields": ["region", "source"]}),
        ("Sending window (local time; the federal window always applies too)",
         {"fields": ["start", "end", "sunday_start", "sunday_end", "no_sundays"]}),
        ("Frequency cap", {"fields": ["frequency_cap_count", "frequency_cap_hours"]}),
    ]  # fmt: skip
