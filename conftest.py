"""Fixtures that run real respike (and redis-server) processes for the tests."""

from __future__ import annotations

import os

import pytest
import redis

from respike import build_native
from respike.process import NodeProcess


def pytest_sessionstart(session):
    """Compiled engine modules older than their source would test old code."""
    if build_native.stale():
        pytest.exit(
            f"compiled {', '.join(build_native.stale())} older than the source: "
            "run `make native` (or `make pure`)",
            returncode=2,
        )


@pytest.fixture(scope="session")
def node():
    """One shared node for command tests; each test starts from an empty database."""
    proc = NodeProcess(config="[namespaces.test]\nnsup-period = 1\n[namespaces.other]\n").start()
    yield proc
    proc.cleanup()


def _client(node: NodeProcess, protocol: int) -> redis.Redis:
    return redis.Redis(host=node.host, port=node.port, protocol=protocol, socket_timeout=10)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(node, request):
    """A redis-py client on the shared node, once with RESP2 and once with RESP3."""
    client = _client(node, request.param)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(node):
    client = _client(node, 3)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def rc(r, node):
    """A raw client speaking the same protocol as `r` (which flushed the database)."""
    from tests.helpers import RawClient

    with RawClient.to(node, r.connection_pool.connection_kwargs["protocol"]) as client:
        yield client


@pytest.fixture
def start_node():
    """Start nodes with a given config; every one is stopped at the end of the test."""
    started: list[NodeProcess] = []

    def start(config: str = "", **kwargs) -> NodeProcess:
        proc = NodeProcess(config=config, **kwargs)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.cleanup()


@pytest.fixture(scope="session")
def redis_server():
    """A reference redis-server for differential tests."""
    from tests.helpers import redis_server_process

    with redis_server_process("redis-ref-") as proc:
        yield ("127.0.0.1", proc.port)


def pytest_configure(config):
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
