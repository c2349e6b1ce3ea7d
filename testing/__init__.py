"""Test support shared by every app's tests: the network guard, the Twilio fake, worker launchers."""
