"""Permissions each staff role needs in messaging (collected by the group sync)."""

ROLE_PERMISSIONS = {
    # See what was sent for their campaigns.
    "Marketing staff": ["messaging.view_outboundmessage"],
    # Read replies, answer them, decide the review queue, keep the keyword lists current.
    "Support agents": [
        "messaging.view_inboundmessage",
        "messaging.review_inboundmessage",
        "messaging.reply_inboundmessage",
        "messaging.view_outboundmessage",
        "messaging.view_keywordrule",
        "messaging.add_keywordrule",
        "messaging.change_keywordrule",
    ],
    # Read everything, change nothing.
    "Compliance auditors": [
        "messaging.view_inboundmessage",
        "messaging.view_outboundmessage",
        "messaging.view_keywordrule",
    ],
}
