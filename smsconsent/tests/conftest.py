from testing.users import login_as  # noqa: F401  (fixture)
