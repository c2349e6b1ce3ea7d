from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture, for every messaging test)
