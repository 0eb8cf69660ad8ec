"""Observability inside the server: SLOWLOG, LATENCY HISTOGRAM, INFO latencystats and
commandstats, Aerospike-style statistics, AS.INFO (asinfo), dynamic configuration and the
log lines an operator follows. Everything against real node processes."""

from __future__ import annotations

import re

import pytest

from respike.config import NAMESPACE_SETTINGS, NODE_ALIASES, NODE_SETTINGS
from respike.process import wait_until

from .helpers import RawClient, as_map, info_dict, namespace_stats

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR) \[[0-9a-f]{16}\] \S+: .+$"
)


@pytest.fixture
def c(node):
    with RawClient.to(node) as client:
        client.call("FLUSHALL")
        client.call("CONFIG", "RESETSTAT")
        client.call("SLOWLOG", "RESET")
        yield client
        client.call("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128")


# --- SLOWLOG -----------------------------------------------------------------------------


def test_slowlog_records_commands_over_the_threshold(c):
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")  # every timed command
    c.call("SET", "k", "v")
    c.call("CLIENT", "SETNAME", "obs")
    c.call("KEYS", "*")  # not O(1): timed on every call
    entries = c.call("SLOWLOG", "GET", "-1")
    newest = entries[0]
    assert len(newest) == 6
    entry_id, stamp, usec, args, addr, name = newest
    assert isinstance(entry_id, int) and stamp > 1_600_000_000 and usec >= 0
    assert args == [b"KEYS", b"*"] and re.match(rb"127\.0\.0\.1:\d+$", addr) and name == b"obs"
    ids = [e[0] for e in entries]
    assert ids == sorted(ids, reverse=True)  # newest first, as Redis
    assert len(c.call("SLOWLOG", "GET", "1")) == 1
    assert c.call("SLOWLOG", "LEN") >= 1
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")  # RESET itself is not logged then
    assert c.call("SLOWLOG", "RESET") == b"OK"
    assert c.call("SLOWLOG", "LEN") == 0 and c.call("SLOWLOG", "GET") == []


def test_slowlog_threshold_and_length_are_dynamic(c):
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")  # off
    c.call("KEYS", "*")
    assert c.call("SLOWLOG", "LEN") == 0
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "3")
    for _ in range(6):
        c.call("KEYS", "*")
    assert c.call("SLOWLOG", "LEN") == 3
    assert as_map(c.call("CONFIG", "GET", "slowlog-*")) == {
        b"slowlog-log-slower-than": b"0",
        b"slowlog-max-len": b"3",
    }


def test_slowlog_errors(c):
    assert c.error("SLOWLOG", "GET", "-2") == "ERR count should be greater than or equal to -1"
    assert c.error("SLOWLOG", "GET", "x") == "ERR count should be greater than or equal to -1"
    assert c.error("SLOWLOG", "NOPE") == "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP."
    assert (
        c.error("SLOWLOG", "LEN", "1") == "ERR wrong number of arguments for 'slowlog|len' command"
    )
    assert any(b"RESET" in line for line in c.call("SLOWLOG", "HELP"))


# --- latency -----------------------------------------------------------------------------


def test_latency_histogram_is_redis_shaped_and_scaled_to_calls(c):
    for i in range(200):
        c.call("SET", f"k{i}", "v")
    c.call("KEYS", "*")
    reply = as_map(c.call("LATENCY", "HISTOGRAM", "set", "keys", "nosuchcommand"))
    assert set(reply) == {b"set", b"keys"}
    for name, calls in ((b"set", 200), (b"keys", 1)):
        entry = as_map(reply[name])
        assert entry[b"calls"] == calls
        buckets = as_map(entry[b"histogram_usec"])
        bounds = sorted(buckets)
        assert all(b & (b - 1) == 0 for b in bounds)  # powers of two
        counts = [buckets[b] for b in bounds]
        assert counts == sorted(counts) and counts[-1] == calls  # cumulative, ends at calls
    everything = as_map(c.call("LATENCY", "HISTOGRAM"))
    assert b"set" in everything and b"keys" in everything
    assert c.call("LATENCY", "LATEST") == [] and c.call("LATENCY", "RESET") == 0


def test_info_latency_and_commandstats(c):
    for i in range(64):
        c.call("SET", f"k{i}", "v")
    for i in range(64):
        c.call("GET", f"k{i}")
    c.call("HGETALL", "nosuch")
    c.error("SET", "onlykey")  # rejected: arity
    c.error("INCR", "k1")  # failed: not an integer... k1 holds "v"
    lat = info_dict(c.call("INFO", "latency"))
    assert c.call("INFO", "latency") == c.call("INFO", "latencystats")
    line = lat["latency_percentiles_usec_hgetall"]
    p = dict(kv.split("=") for kv in line.split(","))
    assert set(p) == {"p50", "p99", "p99.9"}
    assert float(p["p50"]) <= float(p["p99"]) <= float(p["p99.9"])
    stats = info_dict(c.call("INFO", "commandstats"))
    st = dict(kv.split("=") for kv in stats["cmdstat_set"].split(","))
    assert st["calls"] == "64" and st["rejected_calls"] == "1" and st["failed_calls"] == "0"
    assert 1 <= int(st["timed_calls"]) <= 64  # sampled: usec is scaled from the timed calls
    assert float(st["usec_per_call"]) >= 0 and int(st["usec"]) >= 0
    incr = dict(kv.split("=") for kv in stats["cmdstat_incr"].split(","))
    assert incr["calls"] == "1" and incr["failed_calls"] == "1"
    hgetall = dict(kv.split("=") for kv in stats["cmdstat_hgetall"].split(","))
    assert hgetall["timed_calls"] == "1"  # O(N) commands are timed on every call
    assert b"# Commandstats" in c.call("INFO", "all") and b"# Latencystats" in c.call("INFO", "all")
    assert b"# Commandstats" not in c.call("INFO")  # as Redis: not in the default sections
    c.call("CONFIG", "RESETSTAT")
    assert "cmdstat_set" not in info_dict(c.call("INFO", "commandstats"))


# --- Aerospike-style statistics ------------------------------------------------------------


def test_namespace_counters_move(c):
    c.call("SET", "test:users:1", "a")
    c.call("GET", "test:users:1")
    c.call("GET", "test:users:missing")
    c.error("SET", "test:big", "x" * (2 << 20))  # over max-record-size
    ns = namespace_stats(c)
    assert ns["objects"] == "1" and ns["client_write_success"] == "1"
    assert ns["client_read_success"] == "1" and ns["client_read_not_found"] == "1"
    assert ns["client_write_error"] == "1" and ns["fail_record_too_big"] == "1"
    for name in (
        "tombstones",
        "expired_objects",
        "evicted_objects",
        "stop_writes",
        "hwm_breached",
        "fail_generation",
        "fail_key_busy",
    ):
        assert ns[name] == "0", name
    assert info_dict(c.call("INFO", "sets"))["test.users"] == "objects=1"


def test_as_info_commands(node, c):
    c.call("SET", "test:users:1", "a")
    c.call("SET", "test:users:2", "b")
    assert c.call("AS.INFO", "namespaces") == b"test;other"
    stats = dict(kv.split("=", 1) for kv in c.call("AS.INFO", "namespace/test").decode().split(";"))
    assert stats["objects"] == "2" and stats["client_write_success"] == "2"
    assert c.call("AS.INFO", "sets") == b"ns=test:set=users:objects=2:truncate_lut=0;"
    assert c.call("AS.INFO", "sets/other") == b""
    node_stats = dict(
        kv.split("=", 1) for kv in c.call("AS.INFO", "statistics").decode().split(";")
    )
    for name in (
        "cluster_size",
        "cluster_key",
        "cluster_integrity",
        "cluster_principal",
        "migrate_partitions_remaining",
        "client_connections",
        "uptime",
        "objects",
        "client_proxy_complete",
        "client_proxy_error",
        "client_proxy_timeout",
    ):
        assert name in node_stats, name
    assert node_stats["cluster_size"] == "1" and node_stats["cluster_integrity"] == "true"
    node_id = c.call("AS.INFO", "node").decode()
    assert node_id == info_dict(c.call("INFO", "server"))["node_id"]
    assert c.call("AS.INFO", "status") == b"ok"
    assert c.call("AS.INFO", "service") == node.address.encode()
    assert c.call("AS.INFO", "cluster-stable:size=1") == node_stats["cluster_key"].encode()
    assert c.error("AS.INFO", "cluster-stable:size=3").startswith("UNAVAILABLE unstable-cluster")
    several = as_map(c.call("AS.INFO", "build", "status"))
    assert several == {b"build": c.call("AS.INFO", "build"), b"status": b"ok"}
    text = c.error("AS.INFO", "no-such-command")
    assert text.startswith("PARAMETER unrecognized info command") and text.endswith("(4)")
    assert c.error("AS.INFO", "namespace/nosuch").startswith("NAMESPACE")


def test_as_info_latencies(c):
    for i in range(32):
        c.call("SET", f"k{i}", "v")
    text = c.call("AS.INFO", "latencies:").decode()
    rows = dict(item.split(":", 1) for item in text.split(";"))
    assert "write" in rows and "set" in rows
    unit, rate, *shares = rows["set"].split(",")
    assert unit == "msec" and float(rate) >= 0 and len(shares) == 3
    assert all(0 <= float(s) <= 100 for s in shares)
    one = c.call("AS.INFO", "latencies:hist=set").decode()
    assert one.startswith("set:msec,") and ";" not in one


def test_get_and_set_config_through_as_info(c):
    try:
        service = dict(
            kv.split("=", 1) for kv in c.call("AS.INFO", "get-config").decode().split(";")
        )
        assert service["slowlog-max-len"] == "128" and "migrate-threads" in service
        text = c.call("AS.INFO", "get-config:context=namespace;id=test").decode()
        ns = dict(kv.split("=", 1) for kv in text.split(";"))
        assert ns["default-ttl"] == "0" and ns["replication-factor"] == "2"
        assert c.call("AS.INFO", "set-config:context=namespace;id=test;default-ttl=120") == b"ok"
        assert as_map(c.call("CONFIG", "GET", "test.default-ttl")) == {b"test.default-ttl": b"120"}
        c.call("SET", "k", "v")
        assert 119 <= c.call("TTL", "k") <= 120  # in effect at once
        assert c.call("AS.INFO", "set-config:context=service;migrate-threads=2") == b"ok"
        assert as_map(c.call("CONFIG", "GET", "migrate-threads")) == {b"migrate-threads": b"2"}
        text = c.error("AS.INFO", "set-config:context=namespace;id=test;storage-engine=device")
        assert text.startswith("PARAMETER") and "restart" in text
        assert c.error(
            "AS.INFO", "set-config:context=namespace;id=nosuch;default-ttl=1"
        ).startswith("NAMESPACE")
        assert c.error(
            "AS.INFO", "set-config:context=namespace;id=test;default-ttl=soon"
        ).startswith("PARAMETER")
        assert c.error("AS.INFO", "get-config:context=bogus").startswith(
            "PARAMETER invalid context"
        )
        dynamic = dict(
            kv.split("=", 1) for kv in c.call("AS.INFO", "dynamic-config").decode().split(";")
        )
        assert "default-ttl" in dynamic["namespace"].split(",")
        assert "storage-engine" not in dynamic["namespace"].split(",")
    finally:
        c.call("CONFIG", "SET", "test.default-ttl", "0", "migrate-threads", "1")


# Settings Aerospike lets operators change at run time, under respike's names.
# (requirepass is dynamic too: tests/test_admin.py changes it.)
DYNAMIC = {
    "default-ttl": "30",
    "nsup-period": "5",
    "evict-used-pct": "50",
    "stop-writes-used-pct": "80",
    "evict-tenths-pct": "10",
    "max-record-size": "2M",
    "allow-ttl-without-nsup": "true",
    "conflict-resolution-policy": "last-update-time",
    "commit-level": "master",
    "memory-size": "1G",
    "max-ttl": "30d",
    "tomb-raider-eligible-age": "2h",
    "defrag-lwm-pct": "40",
    "flush-max-ms": "500",
    "defrag-sleep": "10",
    "stop-writes-avail-pct": "10",
    "post-write-cache": "64M",
    "max-bin-name-length": "15",
}
NODE_DYNAMIC = {
    "migrate-threads": "2",
    "migrate-max-num-incoming": "2",
    "migrate-sleep": "10",
    "slowlog-log-slower-than": "5000",
    "slowlog-max-len": "64",
    "log-level": "debug",
    "transaction-timeout": "2000",
    "proto-max-bulk-len": "64M",
    "maxclients": "500",
    "redirect-mode": "proxy",
    "udf-time-limit": "250",
    "busy-reply-threshold": "2000",
    "notify-keyspace-events": "KEA",
    "client-output-buffer-limit": "normal 512mb 128mb 30",
}
STATIC = [
    "replication-factor",
    "storage-engine",
    "file-size",
    "write-block-size",
    "commit-to-device",
    "file",
]
NODE_STATIC = [
    "port",
    "bind",
    "data-dir",
    "metrics-port",
    "log-file",
    "fabric-port",
    "seeds",
    "heartbeat-interval",
    "heartbeat-timeout",
    "lua-max-memory",
]


def test_the_dynamic_settings_are_those_aerospike_changes_at_run_time():
    # A new setting fails here until it is listed above: dynamic=True exactly when Aerospike
    # lets operators change it at run time (asinfo set-config), with a value to test it with.
    why = "classify the new setting in tests/test_observability.py (DYNAMIC or STATIC lists)"
    assert {n for n, s in NAMESPACE_SETTINGS.items() if s.dynamic} == set(DYNAMIC), why
    assert {n for n, s in NODE_SETTINGS.items() if s.dynamic} == set(NODE_DYNAMIC) | {
        "requirepass"
    }, why
    assert {n for n, s in NAMESPACE_SETTINGS.items() if not s.dynamic} == set(STATIC), why
    assert {n for n, s in NODE_SETTINGS.items() if not s.dynamic} == set(NODE_STATIC), why


def test_every_dynamic_setting_changes_at_run_time_and_static_ones_say_restart(start_node):
    node = start_node("[namespaces.test]\n")
    with RawClient.to(node) as c:
        before = as_map(c.call("CONFIG", "GET", "*"))
        for name, value in DYNAMIC.items():
            assert c.call("CONFIG", "SET", f"test.{name}", value) == b"OK", name
        for name, value in NODE_DYNAMIC.items():
            assert c.call("CONFIG", "SET", name, value) == b"OK", name
        after = as_map(c.call("CONFIG", "GET", "*"))
        changed = {k.decode() for k in after if after[k] != before.get(k)}
        aliases = {a for a, name in NODE_ALIASES.items() if name in NODE_DYNAMIC}
        assert changed == {f"test.{n}" for n in DYNAMIC} | set(NODE_DYNAMIC) | aliases
        for name in STATIC:
            text = c.error("CONFIG", "SET", f"test.{name}", "1")
            assert "restart" in text, (name, text)
        for name in NODE_STATIC:
            text = c.error("CONFIG", "SET", name, "1")
            assert "restart" in text, (name, text)
        assert as_map(c.call("CONFIG", "GET", "*")) == after


# --- logs --------------------------------------------------------------------------------


def _log_lines(path) -> list[str]:
    with open(path) as fh:
        return fh.read().splitlines()


def test_logs_are_one_timestamped_line_per_event_with_the_node_id(start_node, tmp_path):
    log_file = tmp_path / "node.log"
    node = start_node(
        "[namespaces.test]\nnsup-period = 1\nmemory-size = '64K'\nstop-writes-used-pct = 90\n",
        args=["--log-file", str(log_file), "--log-level", "info"],
    )
    with RawClient.to(node) as c:
        node_id = info_dict(c.call("INFO", "server"))["node_id"]
        wait_until(
            lambda: any("serving namespaces" in line for line in _log_lines(log_file)),
            10,
            "start line",
        )
        c.call("CONFIG", "SET", "test.default-ttl", "600")  # logged with old and new values
        # stop-writes on: fill past 90% of 64K, then off again by raising the limit
        for i in range(200):  # distinct expiry times: eviction takes the soonest first
            if not isinstance(c.call("SET", f"k{i}", "x" * 1000, "EX", 1000 + i), bytes):
                break  # refused: over stop-writes-used-pct
        wait_until(
            lambda: any("stop-writes ON" in line for line in _log_lines(log_file)),
            10,
            "stop-writes ON",
        )
        text = c.error("SET", "one-more", "x" * 1000)
        assert text.startswith("OUT_OF_SPACE") and text.endswith("(8)")
        c.call("CONFIG", "SET", "test.memory-size", "64M")
        wait_until(
            lambda: any("stop-writes off" in line for line in _log_lines(log_file)),
            10,
            "stop-writes off",
        )
        # eviction: above evict-used-pct the soonest-to-expire records go, with a log line
        c.call(
            "CONFIG",
            "SET",
            "test.memory-size",
            "96K",
            "test.evict-used-pct",
            "50",
            "test.stop-writes-used-pct",
            "95",
        )
        wait_until(lambda: int(namespace_stats(c)["evicted_objects"]) > 0, 10, "an eviction")
        assert c.call("EXISTS", "k0") == 0  # the soonest to expire went first
        # The warning comes once the sweep of all partitions ends, after the first evictions.
        evicted = re.compile(r"WARNING .*namespace test above evict-used-pct: evicted [1-9]")
        wait_until(
            lambda: any(evicted.search(line) for line in _log_lines(log_file)),
            30,
            "the eviction warning",
        )
    node.stop()
    lines = _log_lines(log_file)
    assert lines and all(LOG_LINE.match(line) for line in lines), [
        x for x in lines if not LOG_LINE.match(x)
    ]
    assert all(f"[{node_id}]" in line for line in lines)
    text = "\n".join(lines)
    assert "config set test.default-ttl: 0 -> 600" in text
    assert f"node {node_id} stopped" in text


def test_log_level_is_dynamic(start_node, tmp_path):
    log_file = tmp_path / "node.log"
    node = start_node("", args=["--log-file", str(log_file), "--log-level", "warning"])
    with RawClient.to(node) as c:
        c.call("CONFIG", "SET", "test.default-ttl", "0")  # an info line: not written at warning
        c.call("CONFIG", "SET", "log-level", "info")
        c.call("CONFIG", "SET", "test.nsup-period", "60")
    node.stop()
    text = log_file.read_text()
    assert "config set test.default-ttl" not in text
    assert "config set test.nsup-period: 120 -> 60" in text


def test_log_file_is_reopened_after_rotation(start_node, tmp_path):
    log_file = tmp_path / "node.log"
    node = start_node("", args=["--log-file", str(log_file)])
    wait_until(lambda: "serving namespaces" in log_file.read_text(), 10, "start line")
    log_file.rename(tmp_path / "node.log.1")  # what logrotate does
    with RawClient.to(node) as c:
        c.call("CONFIG", "SET", "test.nsup-period", "30")
    wait_until(
        lambda: log_file.exists() and "config set test.nsup-period" in log_file.read_text(),
        10,
        "a new log file",
    )
    assert "config set" not in (tmp_path / "node.log.1").read_text()
