"""A small celery application for the compat tests: broker and result backend are both the
respike node named by RESPIKE_CELERY_URL (the test sets it for the worker, and makes a
client app of its own with `make_app`)."""

from __future__ import annotations

import os

from celery import Celery


def make_app(url: str, remote_control: bool = True) -> Celery:
    app = Celery("compat", broker=url, backend=url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=600,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=3,
        worker_hijack_root_logger=False,
        task_default_queue="compat",
        # remote control (the pidbox fanout) is what needs PSUBSCRIBE in the worker
        worker_enable_remote_control=remote_control,
    )
    return app


app = make_app(
    os.environ.get("RESPIKE_CELERY_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("RESPIKE_CELERY_REMOTE_CONTROL", "1") == "1",
)


@app.task(name="compat.add")
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="compat.fail")
def fail(message: str) -> None:
    raise ValueError(message)


@app.task(name="compat.double")
def double(value: int) -> int:
    return value * 2
