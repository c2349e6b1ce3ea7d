"""Permissions each role needs for campaigns (groups are created from every app's roles.py)."""

ROLE_PERMISSIONS = {
    "Marketing staff": [
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.view_campaign",
        "campaigns.send_campaign",
        "campaigns.view_staterule",
    ],
    "Support agents": ["campaigns.view_campaign"],
    # Auditors read everything and change nothing, state rules included: they check the rules, not set them.
    "Compliance auditors": [
        "campaigns.view_campaign",
        "campaigns.view_staterule",
    ],
}
