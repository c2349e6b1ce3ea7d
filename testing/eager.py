"""The `eager_celery` fixture: tasks enqueued on commit run in-process, so a text reaches the backend in the test."""

import pytest


@pytest.fixture
def eager_celery():
    from smsconsent.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
