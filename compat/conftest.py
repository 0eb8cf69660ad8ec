"""Fixtures for the application tests: a respike node and a 3-node cluster as real processes,
and worker subprocesses that are stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compat.support import REFERENCE, ReferenceServer, Worker, python_worker
from respike.process import NodeProcess
from tests.cluster import Cluster


@pytest.fixture(scope="module")
def app_node() -> Iterator[NodeProcess | ReferenceServer]:
    """One respike node for a module's application tests (default config); with
    RESPIKE_COMPAT_REFERENCE=1 a redis-server instead, to check the tests themselves."""
    proc = ReferenceServer() if REFERENCE else NodeProcess()
    proc.start()
    yield proc
    proc.cleanup()


@pytest.fixture(scope="module")
def cluster3() -> Iterator[Cluster]:
    """A formed 3-node respike cluster (replication factor 2, the default)."""
    if REFERENCE:
        pytest.skip("RESPIKE_COMPAT_REFERENCE=1: no reference cluster")
    cluster = Cluster(3)
    try:
        cluster.start(timeout=90)
        cluster.wait_migrated(cluster.nodes, timeout=90)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def start_worker(tmp_path) -> Iterator:
    """Start worker subprocesses (`python -m ...`); every one is stopped after the test."""
    started: list[Worker] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Worker:
        log = str(tmp_path / f"worker{len(started)}.log")
        worker = python_worker(list(args), log, env)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
