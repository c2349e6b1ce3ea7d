app_name = "messaging"
urlpatterns: list = []  # /sms/inbound/ and /sms/status/ (gateway)
