"""The real `redis-benchmark` against a respike node completes without an error: it
checks CONFIG GET save/appendonly at start-up and stops at the first error reply."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers import RawClient

pytestmark = pytest.mark.skipif(
    shutil.which("redis-benchmark") is None, reason="redis-benchmark is not installed"
)

TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "HSET", "MSET (10 keys)"]


def bench(node, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["redis-benchmark", "-h", node.host, "-p", str(node.port), *args],
        capture_output=True,
        text=True,
        timeout=110,
    )


def _rates(stdout: str) -> dict[str, float]:
    """Final `NAME: N requests per second` lines (-q prints progress with \\r before them)."""
    rates = {}
    for line in stdout.replace("\r", "\n").splitlines():
        m = re.match(r"^\s*(.+?): ([\d.]+) requests per second", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    return rates


def test_benchmark_completes_without_error(node):
    with RawClient.to(node) as c:
        c.call("FLUSHALL")
    result = bench(node, "-t", "ping,set,get,incr,hset,mset", "-n", "20000", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "ERR" not in output and "WARNING" not in output and "Error" not in output, output
    rates = _rates(result.stdout)
    assert list(rates) == TESTS, result.stdout
    assert all(rate > 0 for rate in rates.values())
    with RawClient.to(node) as c:
        # without -r the keys are literal: key:__rand_int__, counter:__rand_int__, myhash
        assert c.call("INCR", "counter:__rand_int__") == 20001
        assert c.call("HLEN", "myhash") == 1
        assert c.call("EXISTS", "key:__rand_int__") == 1


def test_benchmark_pipelined_random_keys_and_resp3(node):
    with RawClient.to(node) as c:
        c.call("FLUSHALL")
    result = bench(node, "-t", "set,get,hset", "-n", "10000", "-P", "16", "-r", "1000", "-q", "-3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERR" not in result.stdout + result.stderr
    assert list(_rates(result.stdout)) == ["SET", "GET", "HSET"]
    with RawClient.to(node) as c:
        keys = c.call("DBSIZE")
        assert 500 < keys <= 1001  # up to 1000 random keys, plus myhash
        assert c.call("HLEN", "myhash") > 500


@pytest.mark.timeout(120)
def test_device_keeps_up_with_large_pipelined_writes(start_node, tmp_path):
    """redis-benchmark as fast as it can push 4 KB values into a device namespace with
    1 MiB write blocks: faster than the block writer (a thread, which needs the GIL back
    after each system call while the loop is busy) writes them out here. Once the write
    queue is half full, writes are held back until it drains, so none is refused with
    DEVICE_OVERLOAD (it was, once the request path got faster than the writer)."""
    node = start_node(
        '[namespaces.test]\nstorage-engine = "device"\nfile-size = "512M"\n', data_dir=str(tmp_path)
    )
    result = bench(node, "-t", "set", "-n", "120000", "-P", "16", "-r", "20000", "-d", "4000", "-q")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Error" not in output, output[-500:]
