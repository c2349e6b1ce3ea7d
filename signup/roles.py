"""Permissions each role needs for programs and their sign-up evidence."""

ROLE_PERMISSIONS = {
    "Marketing staff": [
        "contacts.add_program",
        "contacts.change_program",
        "contacts.view_program",
        "contacts.add_programkeyword",
        "contacts.change_programkeyword",
        "contacts.delete_programkeyword",  # removing a keyword from a program is an ordinary edit
        "contacts.view_programkeyword",
        "signup.view_disclosureversion",
    ],
    "Support agents": ["contacts.view_program", "contacts.view_programkeyword", "signup.view_disclosureversion"],
    "Compliance auditors": ["contacts.view_program", "contacts.view_programkeyword", "signup.view_disclosureversion"],
}
