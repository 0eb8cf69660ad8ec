"""respike-admin, run as a subprocess against real nodes: one node (a cluster of one) and a
real 3-node cluster (info, show, config set on every node, quiesce / quiesce-undo,
migrations). Output is checked both as the tables people read and as `--json`."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from respike.process import NodeProcess, free_port, wait_until
from respike.resp.stats import SAMPLE_EVERY

from .cluster import Cluster, Workload
from .helpers import RawClient, as_map, info_dict

_SCRIPT = os.path.join(os.path.dirname(sys.executable), "respike-admin")
ADMIN = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "respike.admin"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def admin(
    node, *args: str, timeout: float = 60, env: dict | None = None
) -> subprocess.CompletedProcess:
    target = ["-h", node.address] if node is not None else []
    return subprocess.run(
        ADMIN + target + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def ok(node, *args: str, **kw) -> str:
    out = admin(node, *args, **kw)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    assert not ANSI.search(out.stdout), "colours only on a terminal"
    return out.stdout


def as_json(node, *args: str, **kw):
    return json.loads(ok(node, "--json", *args, **kw))


def fails(node, *args: str, code: int = 1, **kw) -> str:
    """The command fails with one line on stderr; returns that line."""
    out = admin(node, *args, **kw)
    assert out.returncode == code, (args, out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("respike-admin: "), out.stderr
    return lines[0]


def rows(table: str, first: str) -> list[list[str]]:
    """Lines of a table whose first column is `first`, split on runs of 2+ spaces."""
    return [
        re.split(r"\s{2,}", line.strip()) for line in table.splitlines() if line.startswith(first)
    ]


# --- one node ----------------------------------------------------------------------------


@pytest.fixture
def one(node):
    with RawClient.to(node) as c:
        c.call("FLUSHALL")
        for i in range(30):
            c.call("SET", f"test:users:{i}", "v")
        c.call("HSET", "other:h", "f", "1")
        node_id = info_dict(c.call("INFO", "server"))["node_id"]
    return node, node_id


def test_info_on_one_node(one):
    node, node_id = one
    text = ok(node, "info")
    assert text.startswith("Cluster: 1 node · key ")
    assert f"principal {node_id}" in text and "integrity ok" in text and "migrations: none" in text
    (row,) = rows(text, node_id)
    assert row[0] == f"{node_id} *" and row[1] == node.address and row[2] == "ok"
    ns = {r[0]: r for r in rows(text, "test") + rows(text, "other")}
    assert ns["test"][1:4] == ["memory", "30", "30"]  # engine, records, objects
    assert ns["other"][2] == "1"
    data = as_json(node, "info")
    assert data["cluster"]["size"] == 1 and data["cluster"]["integrity"] is True
    assert data["nodes"][0]["node"] == node_id and data["nodes"][0]["status"] == "ok"
    assert (
        data["namespaces"]["test"]["objects"] == 30
        and data["namespaces"]["test"]["stop_writes"] is False
    )


def test_show_tables_on_one_node(one):
    node, node_id = one
    cluster = ok(node, "show", "cluster")
    assert rows(cluster, node_id)[0][1] == node.address
    spaces = ok(node, "show", "namespaces")
    assert [r[:3] for r in rows(spaces, "test")] == [
        ["test", node_id, "30"],
        ["test", "total", "30"],
    ]
    data = as_json(node, "show", "namespaces")
    assert data["test"]["nodes"][node_id]["client_write_success"] >= 30
    sets = ok(node, "show", "sets")
    assert rows(sets, "test") == [
        ["test", "users", node_id, "30"],
        ["test", "users", "total", "30"],
    ]
    assert as_json(node, "show", "sets")["test.users"]["objects"] == 30
    stats = ok(node, "show", "stats", "--like", "client_write")
    assert "Service statistics" not in stats  # nothing there matches
    assert "Namespace test statistics" in stats and len(rows(stats, "client_write_success")) == 2
    like = as_json(node, "show", "stats", "--like", "client_write")
    assert set(like["namespaces"]["test"][node_id]) == {
        "client_write_success",
        "client_write_error",
    }
    assert like["namespaces"]["test"][node_id]["client_write_success"] >= 30
    assert "cluster_size" in as_json(node, "show", "stats")["service"][node_id]
    assert as_json(node, "show", "stats", "--like", "migrate_*_remaining")["service"][node_id] == {
        "migrate_partitions_remaining": 0,
        "migrate_rx_partitions_remaining": 0,
        "migrate_tx_partitions_remaining": 0,
    }
    config = ok(node, "show", "config", "--like", "ttl")
    assert rows(config, "default-ttl")[0] == [
        "default-ttl",
        "0",
        "yes",
    ]  # name, value on the node, dynamic
    data = as_json(node, "show", "config", "--namespace", "test")
    assert data["namespaces"]["test"][node_id]["replication-factor"] == "2"
    assert "replication-factor" not in data["dynamic"]["namespace"]
    assert "default-ttl" in data["dynamic"]["namespace"]


def test_show_latencies(one):
    node, node_id = one
    with RawClient.to(node) as c:
        c.call("KEYS", "*")
        for i in range(32):
            c.call("GET", f"test:users:{i}")
    text = ok(node, "show", "latencies")
    assert "p99.9 µs" in text and f"timed 1 call in {SAMPLE_EVERY}" in text
    data = as_json(node, "show", "latencies", "--like", "keys")
    # the node is shared by the session, so earlier modules may have run HKEYS too
    assert all("keys" in e["command"] for e in data[node_id])
    (entry,) = [e for e in data[node_id] if e["command"] == "keys"]
    assert entry["calls"] >= 1
    assert 0 < entry["p50_usec"] <= entry["p99_usec"] <= entry["p99.9_usec"]


def test_raw_info_like_asinfo(one):
    node, node_id = one
    assert ok(node, "info", "namespaces") == "test;other\n"
    assert ok(node, "info", "node") == node_id + "\n"
    lines = ok(node, "info", "namespace/test", "-l").splitlines()
    assert "objects=30" in lines
    assert as_json(node, "info", "sets") == "ns=test:set=users:objects=30:truncate_lut=0;"
    every = as_json(node, "info", "build", "--all")
    assert list(every) == [node_id]
    line = fails(node, "info", "no-such-info")
    assert "unrecognized info command 'no-such-info'" in line


def test_truncate(one):
    node, _ = one
    line = fails(node, "truncate", "test", "users", code=2)
    assert "--yes" in line
    assert ok(node, "truncate", "test", "users", "--yes").startswith(
        "truncated set 'users' of namespace 'test'"
    )
    with RawClient.to(node) as c:
        assert c.call("EXISTS", "test:users:1") == 0 and c.call("EXISTS", "other:h") == 1
    assert "truncated namespace 'other'" in ok(node, "truncate", "other", "-y")
    assert "namespace 'nosuch' is not configured" in fails(node, "truncate", "nosuch", "--yes")


def test_config_set_on_one_node_and_errors(start_node):
    node = start_node("[namespaces.test]\n")
    text = ok(node, "config", "set", "--namespace", "test", "default-ttl", "3600")
    (row,) = rows(text, info_node_id(node))
    assert row[2:] == ["test.default-ttl", "3600", "ok"]
    with RawClient.to(node) as c:
        assert as_map(c.call("CONFIG", "GET", "test.default-ttl")) == {b"test.default-ttl": b"3600"}
        c.call("SET", "k", "v")
        assert 3599 <= c.call("TTL", "k") <= 3600
    data = as_json(node, "config", "set", "slowlog-max-len", "7")
    assert data["nodes"][0]["value"] == "7" and data["nodes"][0]["result"] == "ok"
    line = fails(node, "config", "set", "--namespace", "test", "replication-factor", "3")
    assert line == (
        "respike-admin: test.replication-factor: 'replication-factor' cannot be changed at "
        "run time; edit the config file and restart the node"
    )
    assert "bad value for 'default-ttl'" in fails(
        node, "config", "set", "-n", "test", "default-ttl", "soon"
    )
    assert "unknown setting 'nosuch'" in fails(node, "config", "set", "nosuch", "1")
    assert "no namespace 'zz'" in fails(
        node, "config", "set", "-n", "zz", "default-ttl", "1", code=2
    )


def info_node_id(node) -> str:
    with RawClient.to(node) as c:
        return info_dict(c.call("INFO", "server"))["node_id"]


def test_bad_arguments_and_unreachable_nodes_give_one_line():
    port = free_port()
    line = fails(None, "-p", str(port), "info")
    assert line == f"respike-admin: cannot reach 127.0.0.1:{port}: Connection refused"
    assert "invalid choice: 'bogus'" in fails(None, "bogus", code=2)
    assert "invalid choice: 'everything'" in fails(None, "show", "everything", code=2)
    assert "no command given" in fails(None, code=2)
    assert "the following arguments are required" in fails(None, "config", "set", "x", code=2)
    assert "bad port" in fails(None, "-p", "70000", "info", code=2)
    assert "invalid int value" in fails(None, "-p", "x", "info", code=2)
    assert "cannot reach 192.0.2.1:6379" in fails(
        None, "--timeout", "0.3", "-h", "192.0.2.1", "info"
    )


def test_password(start_node):
    node = start_node("[node]\nrequirepass = 's3cret'\n")
    assert "needs a password" in fails(node, "info")
    assert "authentication failed" in fails(node, "-P", "wrong", "info")
    assert ok(node, "-P", "s3cret", "info").startswith("Cluster: 1 node")
    assert ok(node, "info", env={"RESPIKE_PASSWORD": "s3cret"}).startswith("Cluster: 1 node")
    data = as_json(
        node, "show", "config", "--like", "requirepass", env={"RESPIKE_PASSWORD": "s3cret"}
    )
    assert list(data["service"].values())[0] == {"requirepass": "********"}  # never shown


def test_colours_only_on_a_terminal(one):
    node, _ = one
    for env, coloured in (({}, True), ({"NO_COLOR": "1"}, False)):
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            ADMIN + ["-h", node.address, "info"],
            stdout=slave,
            stderr=subprocess.PIPE,
            env={**os.environ, "TERM": "xterm", **env},
        )
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert proc.wait(30) == 0
        assert bool(ANSI.search(out.decode())) is coloured
        assert b"Nodes (* principal)" in out


# --- a real 3-node cluster ---------------------------------------------------------------

CLUSTER_CONFIG = "[namespaces.test]\nreplication-factor = 2\nnsup-period = 1\n"


@pytest.fixture(scope="module")
def cluster():
    """Three nodes on their own 127.0.x.1-3 addresses, seeded from the first, formed into
    one cluster with no migration pending."""
    c = Cluster(3, CLUSTER_CONFIG)
    try:
        c.start()
        c.wait_migrated(c.nodes, 60)
        yield c
    finally:
        c.stop()


def node_ids(nodes) -> list[str]:
    return [info_node_id(n) for n in nodes]


def test_cluster_info_and_tables(cluster):
    nodes = cluster.nodes
    ids = node_ids(nodes)
    text = ok(nodes[0], "info")
    assert text.startswith("Cluster: 3 nodes · key ") and "integrity ok" in text
    assert "migrations: none" in text
    for node, node_id in zip(nodes, ids, strict=True):
        (row,) = rows(text, node_id)
        assert row[1] == node.address and row[2] == "ok" and row[4] == "3"
    data = as_json(nodes[1], "info")  # any node gives the whole cluster
    assert data["cluster"]["size"] == 3 and data["cluster"]["nodes_reachable"] == 3
    assert sorted(n["node"] for n in data["nodes"]) == sorted(ids)
    assert sum(n["principal"] for n in data["nodes"]) == 1
    assert len({n["cluster_key"] for n in data["nodes"]}) == 1
    stats = as_json(nodes[2], "show", "stats", "--like", "cluster_size")
    assert stats["service"] == {i: {"cluster_size": 3} for i in ids}
    config = ok(nodes[0], "show", "config", "-n", "test", "--like", "replication-factor")
    assert rows(config, "replication-factor") == [["replication-factor", "2", "2", "2", "no"]]
    migrations = as_json(nodes[0], "migrations")
    assert migrations["done"] is True and [n["remaining"] for n in migrations["nodes"]] == [0, 0, 0]
    logs = [Path(n.log_path).read_text(errors="replace") for n in nodes]
    # a round shorter than the metrics tick is logged only as finished (respike/metrics.py)
    assert any("migrations finished" in log for log in logs)
    assert all("migrations finished" in log for log in logs if "migrations started" in log)


def test_config_set_applies_on_every_node(cluster):
    nodes = cluster.nodes
    try:
        data = as_json(nodes[0], "config", "set", "--namespace", "test", "default-ttl", "500")
        assert [n["result"] for n in data["nodes"]] == ["ok"] * 3
        assert [n["value"] for n in data["nodes"]] == ["500"] * 3
        for i, node in enumerate(nodes):
            with RawClient.to(node) as c:
                assert as_map(c.call("CONFIG", "GET", "test.default-ttl")) == {
                    b"test.default-ttl": b"500"
                }
                key = f"test:cfg:{i}"
                assert c.call("SET", key, "v") == b"OK"
                assert 499 <= c.call("TTL", key) <= 500  # in effect wherever the key lives
        text = ok(nodes[1], "config", "set", "migrate-threads", "2")
        assert text.count(" ok") == 3
        for node in nodes:
            with RawClient.to(node) as c:
                assert as_map(c.call("CONFIG", "GET", "migrate-threads")) == {
                    b"migrate-threads": b"2"
                }
    finally:
        for node in nodes:
            with RawClient.to(node) as c:
                c.call("CONFIG", "SET", "test.default-ttl", "0", "migrate-threads", "1")


def _effective(node) -> str | None:
    with RawClient.to(node) as c:
        return info_dict(c.call("INFO", "cluster")).get("effective_is_quiesced")


def _masters(node) -> dict[str, int | None]:
    return {n["node"]: n["master_partitions"] for n in as_json(node, "show", "cluster")["nodes"]}


def test_quiesce_hands_mastership_over_without_losing_writes(cluster):
    nodes = cluster.nodes
    ids = node_ids(nodes)
    target_id = ids[1]
    work = Workload(
        cluster, writers=2, prefix="q"
    ).start()  # through every node, the quiesced one too
    try:
        wait_until(lambda: len(work.acked) >= 100, 30, "writes before quiesce")
        data = as_json(nodes[0], "quiesce", target_id, "--wait-timeout", "60")
        assert data["result"] == "ok" and data["node"] == target_id
        row = next(n for n in data["nodes"] if n["node"] == target_id)
        assert row["status"] == "ok" and row["quiesced"] is True  # still a member
        assert row["master_partitions"] == 0
        assert len(data["nodes"]) == 3 and all(n["cluster_size"] == 3 for n in data["nodes"])
        assert f"quiesced: {target_id}" in ok(nodes[2], "info")
        count = len(work.acked)
        wait_until(lambda: len(work.acked) >= count + 100, 30, "writes while quiesced")
        # undo, then follow the migrations until the cluster is balanced again
        assert as_json(nodes[2], "quiesce-undo", target_id[:8], "--no-wait")["result"] == "ok"
        wait_until(lambda: _effective(nodes[1]) == "0", 30, "a view without the quiesce")
        out = admin(
            nodes[0],
            "--json",
            "migrations",
            "--until-done",
            "--interval",
            "0.2",
            "--wait-timeout",
            "60",
            timeout=90,
        )
        assert out.returncode == 0, out.stderr
        states = [json.loads(line) for line in out.stdout.splitlines()]
        assert states[-1]["done"] is True and len(states[-1]["nodes"]) == 3
        wait_until(
            lambda: not as_json(nodes[0], "info")["cluster"]["quiesced"], 30, "quiesce undone"
        )
        masters = _masters(nodes[0])
        assert all(m is not None and abs(m - 4096 / 3) < 4096 * 0.02 for m in masters.values()), (
            masters
        )
    finally:
        work.stop()
    assert work.acked
    for node in nodes:  # every acknowledged write is readable through every node
        missing = work.missing(node)
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


def test_quiesce_of_an_unknown_node(cluster):
    line = fails(cluster.nodes[0], "quiesce", "ffffffffffffffff", code=2)
    assert "no node 'ffffffffffffffff' in the cluster" in line


def _set_migrate_threads(c: Cluster, nodes: list, n: int) -> None:
    for proc in nodes:
        c.client(proc).config_set("migrate-threads", n)


def _join_with_a_sender_that_receives_nothing(c: Cluster, first: list) -> tuple:
    """Start a fourth node while the first three's migrations are paused, until one of
    those three receives nothing from the others; (the new node, that node).

    Which nodes receive what depends on the node ids: a new node (a fresh data dir, so a
    fresh id) is tried again when all three receive partitions."""
    host = first[0].host.rsplit(".", 1)[0] + ".4"
    for _ in range(10):
        joining = NodeProcess(host=host, config=CLUSTER_CONFIG, args=["--seed", first[0].address])
        c.nodes.append(joining)
        joining.start()
        c.wait_formed(c.nodes, 60)
        wait_until(
            lambda j=joining: int(c.info(j, "migrations")["migrate_rx_partitions_remaining"]) > 0,
            30,
            "the new node to expect partitions",
        )
        quiet = [
            p for p in first if int(c.info(p, "migrations")["migrate_rx_partitions_remaining"]) == 0
        ]
        if quiet:
            return joining, quiet[0]
        c.nodes.remove(joining)
        joining.cleanup()
        _set_migrate_threads(c, first, 1)  # settle without it, then pause again
        c.wait_migrated(first, 60)
        _set_migrate_threads(c, first, 0)
    pytest.fail("ten new node ids, and every old node received partitions each time")


def test_cluster_stable_asks_every_node():
    """`info cluster-stable` is the cluster's answer: it waits for another node's migrations.

    Migrations are paused (migrate-threads 0) on three nodes before a fourth joins. Then
    only a node S that receives nothing is let go: it sends its partitions and, asked alone
    (AS.INFO, --this-node), says stable while the others still hold theirs. The
    cluster-wide form names those nodes, and answers the key once they are let go too.
    """
    c = Cluster(3, CLUSTER_CONFIG)
    first = list(c.nodes)
    try:
        c.start()
        c.wait_migrated(first, 60)
        _set_migrate_threads(c, first, 0)
        joining, seed = _join_with_a_sender_that_receives_nothing(c, first)
        others = [p for p in first if p is not seed]
        c.client(seed).config_set("migrate-threads", 1)
        wait_until(
            lambda: admin(seed, "info", "cluster-stable:size=4", "--this-node").returncode == 0,
            60,
            "the seed to finish its own migrations",
        )
        line = fails(seed, "info", "cluster-stable:size=4")
        assert "cluster not stable" in line and "migrations pending" in line, line
        for proc in others + [joining]:  # everyone else still sends or receives
            assert info_node_id(proc) in line, (proc.address, line)
        assert info_node_id(seed) not in line  # the seed itself is stable
        fails(seed, "--json", "info", "cluster-stable:size=4")
        _set_migrate_threads(c, others, 1)
        wait_until(
            lambda: admin(seed, "info", "cluster-stable:size=4").returncode == 0,
            120,
            "every node's migrations to finish",
            0.5,
        )
        for proc in c.nodes:  # what the cluster-wide answer promises
            assert c.info(proc, "migrations")["migrate_partitions_remaining"] == 0
        fails(seed, "info", "cluster-stable:size=3")  # the wrong size is refused
        data = as_json(joining, "info", "cluster-stable:size=4")
        assert data["cluster_key"] == ok(seed, "info", "cluster-stable").strip()
        assert sorted(data["nodes"]) == sorted(node_ids(c.nodes))
    finally:
        c.stop()
