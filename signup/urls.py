from django.urls import path

from . import views

app_name = "signup"
urlpatterns = [
    path("<slug:slug>/", views.signup_page, name="join"),
    path("<slug:slug>/thanks/", views.signup_thanks, name="thanks"),
]
