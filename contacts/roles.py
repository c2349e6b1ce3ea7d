"""What each staff role may do with contacts, programs and the consent ledger.

Collected with every other app's `roles.py` by `smsconsent.roles`.
"""

MARKETING_STAFF = "Marketing staff"
SUPPORT_AGENTS = "Support agents"
COMPLIANCE_AUDITORS = "Compliance auditors"

ROLE_PERMISSIONS = {
    MARKETING_STAFF: [
        "contacts.add_program",
        "contacts.change_program",
        "contacts.view_program",
        "contacts.add_programkeyword",
        "contacts.change_programkeyword",
        "contacts.delete_programkeyword",
        "contacts.view_programkeyword",
        "contacts.view_contact",
        "contacts.view_subscription",
        "contacts.add_tag",
        "contacts.change_tag",
        "contacts.view_tag",
    ],
    SUPPORT_AGENTS: [
        "contacts.view_program",
        "contacts.view_programkeyword",
        "contacts.add_contact",
        "contacts.change_contact",
        "contacts.view_contact",
        "contacts.opt_out_contact",
        "contacts.opt_in_contact",
        "contacts.import_contacts",
        "contacts.view_subscription",
        "contacts.view_consentevent",
        "contacts.view_tag",
        "contacts.add_suppressednumber",
        "contacts.view_suppressednumber",
    ],
    COMPLIANCE_AUDITORS: [
        "contacts.view_program",
        "contacts.view_programkeyword",
        "contacts.view_contact",
        "contacts.view_subscription",
        "contacts.view_consentevent",
        "contacts.view_tag",
        "contacts.view_suppressednumber",
        "contacts.export_contact",
    ],
}
