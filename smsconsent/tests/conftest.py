from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture)
from testing.users import login_as  # noqa: F401  (fixture)
