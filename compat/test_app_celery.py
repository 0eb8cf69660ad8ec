"""celery 5 with respike as both the redis broker (kombu: LPUSH/BRPOP, MULTI, sorted sets
for unacked messages) and the result backend (SET with expiry, results announced by
PUBLISH and awaited by `.get()` through SUBSCRIBE): a real worker subprocess runs the
tasks; each test stops it within a timeout."""

from __future__ import annotations

import gc

import celery
import pytest

from compat.apps.celery_app import make_app
from compat.support import skip_if_missing, strict_check, tolerate_missing_commands, url
from respike.process import wait_until

WORKER = [
    "-m",
    "celery",
    "-A",
    "compat.apps.celery_app",
    "worker",
    "--pool=solo",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "-l",
    "INFO",
    "-Q",
    "compat",
]


def start(start_worker, node, remote_control: bool, name: str):
    env = {
        "RESPIKE_CELERY_URL": url(node),
        "RESPIKE_CELERY_REMOTE_CONTROL": "1" if remote_control else "0",
    }
    return start_worker(*WORKER, "-n", f"{name}@%h", env=env)


def finished(result, worker) -> bool:
    if not worker.proc or worker.proc.poll() is not None:
        skip_if_missing(worker.output())
        raise AssertionError(f"the celery worker exited:\n{worker.output()}")
    return result.ready()


@pytest.fixture
def client_app(app_node):
    app = make_app(url(app_node))
    yield app
    gc.collect()  # results unsubscribe from their channels while the node still runs
    app.close()


def test_task_result_read_from_the_backend(app_node, start_worker, client_app):
    """Without remote control the worker needs no pub/sub: the task runs, its result is
    read back with GET (polling `ready()`), then `.get()` waits on its channel."""
    worker = start(start_worker, app_node, False, "compat-nopidbox")
    with tolerate_missing_commands():
        ok = client_app.send_task("compat.add", args=(2, 40))
        bad = client_app.send_task("compat.fail", args=("on purpose",))
    wait_until(lambda: finished(ok, worker) and finished(bad, worker), 60, "the celery tasks")
    assert ok.successful() and ok.result == 42
    assert bad.failed() and isinstance(bad.result, Exception) and "on purpose" in str(bad.result)
    with tolerate_missing_commands():
        assert ok.get(timeout=10) == 42
        with pytest.raises(Exception, match="on purpose"):
            bad.get(timeout=10)
    strict_check(worker.output())


def test_worker_with_defaults_and_get(app_node, start_worker, client_app):
    """The worker as celery starts it by default (remote control on: the pidbox fanout),
    a task's `.get()`, a chain, and a remote-control ping answered by the worker."""
    worker = start(start_worker, app_node, True, "compat-default")
    with tolerate_missing_commands():
        result = client_app.send_task("compat.add", args=(20, 1))
        wait_until(lambda: finished(result, worker), 60, "the celery task")
        assert result.get(timeout=10) == 21
        chain = celery.chain(
            client_app.signature("compat.add", args=(1, 2)),
            client_app.signature("compat.double"),
        ).apply_async()
        assert chain.get(timeout=30) == 6
        replies = client_app.control.ping(timeout=5)
        assert any("compat-default@" in name for reply in replies for name in reply), replies
    strict_check(worker.output())
