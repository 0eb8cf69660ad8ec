"""The Prometheus endpoint: scraped over HTTP from a real node, parsed with
prometheus_client's text parser, and its counters follow the commands the test issues."""

from __future__ import annotations

import http.client
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from respike.process import free_port

from .helpers import RawClient, as_map


def scrape(node, port: int, path: str = "/metrics") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection(node.host, port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


class Metrics:
    """One scrape: families by name, and sample lookup by name and labels."""

    def __init__(self, text: str):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def get(self, name: str, **labels: str) -> float:
        found = [
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    def has(self, name: str, **labels: str) -> bool:
        return any(
            s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
            for s in self.samples
        )


@pytest.fixture(scope="module")
def metered(tmp_path_factory):
    from respike.process import NodeProcess

    port = free_port()
    node = NodeProcess(
        config=f"[node]\nmetrics-port = {port}\n[namespaces.test]\nnsup-period = 1\n"
        "[namespaces.other]\n"
    ).start()
    yield node, port
    node.cleanup()


def test_scrape_parses_and_counters_move(metered):
    node, port = metered
    status, headers, text = scrape(node, port)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    before = Metrics(text)
    with RawClient.to(node) as c:
        for i in range(40):
            c.call("SET", f"test:users:{i}", "v")
        for i in range(10):
            c.call("GET", f"test:users:{i}")
        c.call("GET", "test:users:missing")
        c.call("HSET", "other:h", "f", "1")
        c.error("INCR", "test:users:0")
        c.error("GET")
    after = Metrics(scrape(node, port)[2])

    def moved(name: str, **labels: str) -> float:
        old = before.get(name, **labels) if before.has(name, **labels) else 0
        return after.get(name, **labels) - old

    # Redis exporter names
    assert moved("redis_commands_total", cmd="set") == 40
    assert moved("redis_commands_total", cmd="get") == 11
    assert moved("redis_commands_failed_calls_total", cmd="incr") == 1
    assert moved("redis_commands_rejected_calls_total", cmd="get") == 1
    assert moved("redis_keyspace_hits_total") == 10 and moved("redis_keyspace_misses_total") == 1
    assert moved("redis_commands_processed_total") >= 53
    assert after.get("redis_db_keys", db="db0") == 41
    assert after.get("redis_up") == 1 and after.get("redis_connected_clients") >= 0
    assert after.has("redis_instance_info", redis_version="7.2.0")
    # Aerospike exporter names, labelled with the node's service address and namespace
    svc = node.address
    assert moved("aerospike_namespace_client_write_success_total", service=svc, ns="test") == 40
    assert moved("aerospike_namespace_client_read_success_total", service=svc, ns="test") == 10
    assert moved("aerospike_namespace_client_read_not_found_total", service=svc, ns="test") == 1
    assert (
        after.get("aerospike_namespace_objects", service=svc, ns="test", storage_engine="memory")
        == 40
    )
    assert after.get("aerospike_namespace_objects", ns="other") == 1
    assert after.get("aerospike_sets_objects", ns="test", set="users") == 40
    assert after.get("aerospike_node_stats_cluster_size", service=svc) >= 1
    assert after.get("aerospike_node_stats_migrate_partitions_remaining", service=svc) == 0
    for name in (
        "aerospike_namespace_stop_writes",
        "aerospike_namespace_hwm_breached",
        "aerospike_namespace_tombstones",
        "aerospike_namespace_evicted_objects_total",
        "aerospike_namespace_expired_objects_total",
        "aerospike_namespace_fail_generation_total",
        "aerospike_namespace_fail_key_busy_total",
        "aerospike_node_stats_cluster_integrity",
        "aerospike_node_stats_cluster_key",
        "aerospike_node_stats_client_proxy_complete_total",
        "aerospike_node_stats_client_proxy_error_total",
        "aerospike_node_up",
    ):
        assert after.has(name), name
    assert after.families["aerospike_namespace_client_write_success"].type == "counter"
    assert after.families["aerospike_namespace_objects"].type == "gauge"


def test_latency_histograms_and_summaries_are_consistent(metered):
    node, port = metered
    with RawClient.to(node) as c:
        for i in range(64):
            c.call("SET", f"lat{i}", "v")
        c.call("KEYS", "lat*")
    m = Metrics(scrape(node, port)[2])
    for cmd in ("set", "keys"):
        hist = m.families["redis_latency_usec"]
        buckets = [
            (float(s.labels["le"]), s.value)
            for s in hist.samples
            if s.name == "redis_latency_usec_bucket" and s.labels["cmd"] == cmd
        ]
        buckets.sort()
        counts = [v for _, v in buckets]
        assert counts == sorted(counts) and buckets[-1][0] == float("inf")
        assert (
            counts[-1]
            == m.get("redis_latency_usec_count", cmd=cmd)
            == m.get("redis_commands_total", cmd=cmd)
        )
        quantiles = {
            s.labels["quantile"]: s.value
            for s in m.families["redis_latency_percentiles_usec"].samples
            if s.labels.get("cmd") == cmd and "quantile" in s.labels
        }
        assert set(quantiles) == {"0.5", "0.99", "0.999"}
        assert quantiles["0.5"] <= quantiles["0.99"] <= quantiles["0.999"]
    write = m.families["aerospike_latencies_write_ms"]
    assert write.type == "histogram"
    inf = [
        s.value for s in write.samples if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"
    ]
    assert inf[0] == m.get("aerospike_latencies_write_ms_count") >= 64


def test_other_paths_and_methods(metered):
    node, port = metered
    assert scrape(node, port, "/nope")[0] == 404
    assert scrape(node, port, "/")[0] == 200
    conn = http.client.HTTPConnection(node.host, port, timeout=10)
    conn.request("POST", "/metrics", body=b"x")
    assert conn.getresponse().status == 405
    conn.close()
    with RawClient.to(node) as c:
        assert as_map(c.call("CONFIG", "GET", "metrics-port")) == {
            b"metrics-port": str(port).encode()
        }
        assert c.error("CONFIG", "SET", "metrics-port", "0").endswith("restart the node")


def test_metrics_are_off_by_default(node):
    with RawClient.to(node) as c:
        assert as_map(c.call("CONFIG", "GET", "metrics-port")) == {b"metrics-port": b"0"}
    assert "metrics endpoint" not in node.log()


def test_metrics_port_in_use_stops_start_up_with_one_line(tmp_path, metered):
    _, busy = metered
    cmd = [sys.executable, "-m", "respike", "--port", str(free_port()), "--data-dir", str(tmp_path)]
    (tmp_path / "respike.toml").write_text(f"[node]\nmetrics-port = {busy}\n")
    out = subprocess.run(
        cmd + ["--config", str(tmp_path / "respike.toml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = [line for line in out.stderr.splitlines() if line.startswith("respike:")]
    assert out.returncode == 2 and len(lines) == 1 and "metrics-port" in lines[0], out.stderr
