"""rq (Redis Queue) against a respike node: jobs enqueued by this process are run by a real
`rq worker --burst` subprocess; the results (kept in a stream since rq 1.12) are read back
here. The worker's command channel (`rq.command`, PUBLISH to a channel the worker
subscribed to) shuts a long-running worker down."""

from __future__ import annotations

import redis
from rq import Queue, Worker
from rq.command import send_shutdown_command
from rq.job import Job, JobStatus

from compat.apps import rq_jobs
from compat.support import skip_if_missing, strict_check, tolerate_missing_commands, url
from respike.process import wait_until

PROMPT = "compat.apps.rq_jobs.PromptWorker"  # see its docstring


def test_burst_worker_runs_jobs(app_node, start_worker):
    conn = redis.Redis(host=app_node.host, port=app_node.port, socket_timeout=10)
    queue = Queue("compat-burst", connection=conn)
    with tolerate_missing_commands():
        ok = queue.enqueue(rq_jobs.add, 2, 40, result_ttl=600)
        bad = queue.enqueue(rq_jobs.fail, "on purpose")
        assert queue.count == 2
    worker = start_worker(
        "-m", "rq.cli", "worker", "-w", PROMPT, "--burst", "--url", url(app_node), "compat-burst"
    )
    assert worker.wait(60) == 0, worker.output()
    if ok.get_status(refresh=True) != JobStatus.FINISHED:
        skip_if_missing(worker.output())
    assert ok.get_status(refresh=True) == JobStatus.FINISHED, worker.output()
    assert ok.return_value() == {"sum": 42, "args": [2, 40]}
    fetched = Job.fetch(ok.id, connection=conn)
    assert fetched.return_value() == {"sum": 42, "args": [2, 40]}
    assert fetched.latest_result().type.name == "SUCCESSFUL"
    assert bad.get_status(refresh=True) == JobStatus.FAILED
    assert "ValueError: on purpose" in bad.latest_result().exc_string
    assert bad.id in queue.failed_job_registry
    assert queue.count == 0
    strict_check(worker.output())


def test_shutdown_command_stops_worker(app_node, start_worker):
    conn = redis.Redis(host=app_node.host, port=app_node.port, socket_timeout=10)
    worker = start_worker(
        "-m",
        "rq.cli",
        "worker",
        "-w",
        PROMPT,
        "--url",
        url(app_node),
        "--name",
        "compat-w1",
        "--worker-ttl",
        "16",
        "compat-cmd",
    )  # a ttl of 16 s: its blocking pop waits 1 s, so it sees the shutdown soon
    wait_until(
        lambda: (
            "Listening on" in worker.output()  # its signal handlers are in place
            and any(w.name == "compat-w1" for w in Worker.all(connection=conn))
        ),
        30,
        "the rq worker to register and listen",
        0.1,
    )
    strict_check(worker.output())
    skip_if_missing(worker.output())  # it could not subscribe to its command channel
    with tolerate_missing_commands():
        send_shutdown_command(conn, "compat-w1")
    assert worker.wait(30) == 0, worker.output()
    assert not any(w.name == "compat-w1" for w in Worker.all(connection=conn))
