
app_name = "signup"
urlpatterns: list = []  # /join/<slug>/ and /join/<slug>/thanks/ (public forms)
