"""The Celery app. Workers: `celery -A smsconsent worker`; schedules: `celery -A smsconsent beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsconsent.settings")

app = Celery("smsconsent")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
