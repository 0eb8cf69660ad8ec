"""Start-up configuration: bad flags or TOML stop the node with one clear line that names
the setting, and exit code 2; so do a port or data dir it cannot use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from respike.process import NodeProcess, free_port, wait_until
from tests.helpers import RawClient, as_map, info_dict

# (case id, extra args, TOML text or None, words the one error line must contain)
CASES = [
    ("port-not-int", ["--port", "abc"], None, ["'port'", "abc"]),
    ("port-range", ["--port", "70000"], None, ["'port'", "65535"]),
    # the fabric's default port is the service port + 10000: 70000 is out of range
    ("fabric-port-derived", ["--port", "60000"], None, ["'fabric-port'", "70000", "--fabric-port"]),
    ("fabric-port-range", ["--fabric-port", "65536"], None, ["'fabric-port'", "65535"]),
    ("fabric-is-service", ["--port", "7000", "--fabric-port", "7000"], None, ["'fabric-port'"]),
    ("seed-port-derived", ["--seed", "127.0.0.1:60000"], None, ["'seeds'", "70000"]),
    ("seed-not-address", ["--seed", "nowhere"], None, ["'seeds'", "nowhere"]),
    ("unknown-flag", ["--nope"], None, ["--nope"]),
    ("missing-file", [], "@missing", ["--config", "No such file"]),
    ("bad-toml", [], "[node\nport = 1", ["not valid TOML"]),
    ("unknown-node-setting", [], "[node]\nportt = 1\n", ["[node]", "'portt'"]),
    ("unknown-table", [], "[nodes]\nport = 1\n", ["[nodes]"]),
    ("bad-log-level", ["--log-level", "loud"], None, ["'log-level'", "loud"]),
    (
        "ns-bad-value",
        [],
        "[namespaces.test]\ndefault-ttl = 'soon'\n",
        ["[namespaces.test]", "'default-ttl'"],
    ),
    (
        "ns-unknown-setting",
        [],
        "[namespaces.test]\nreplication = 2\n",
        ["[namespaces.test]", "'replication'"],
    ),
    ("ns-bad-name", [], "[namespaces.'bad name']\n", ["bad name"]),
    ("ns-not-a-table", [], "namespaces = 3\n", ["[namespaces"]),
    (
        "ttl-without-nsup",
        [],
        "[namespaces.test]\ndefault-ttl = 100\nnsup-period = 0\n",
        ["'default-ttl'", "'nsup-period'"],
    ),
    (
        "default-above-max",
        [],
        "[namespaces.test]\ndefault-ttl = '20d'\nmax-ttl = '10d'\n",
        ["'default-ttl'", "'max-ttl'"],
    ),
    (
        "evict-above-stop",
        [],
        "[namespaces.test]\nevict-used-pct = 80\nstop-writes-used-pct = 70\n",
        ["'evict-used-pct'"],
    ),
    (
        "pct-range",
        [],
        "[namespaces.test]\nstop-writes-used-pct = 120\n",
        ["'stop-writes-used-pct'", "100"],
    ),
    (
        "record-size-range",
        [],
        "[namespaces.test]\nmax-record-size = '16M'\n",
        ["'max-record-size'"],
    ),
    ("bad-size", [], "[namespaces.test]\nmemory-size = 'lots'\n", ["'memory-size'"]),
    (
        "bad-bool",
        [],
        "[namespaces.test]\nallow-ttl-without-nsup = 'maybe'\n",
        ["'allow-ttl-without-nsup'"],
    ),
]


def _run_all(tmp_path, cases):
    """Start every case at once (each is a short-lived process) and collect the outcomes."""
    procs = []
    for case_id, args, toml, _ in cases:
        cmd = [
            sys.executable,
            "-m",
            "respike",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / case_id),
        ]
        if toml is not None:
            path = tmp_path / f"{case_id}.toml"
            if toml != "@missing":
                path.write_text(toml)
            cmd += ["--config", str(path)]
        procs.append(
            subprocess.Popen(
                cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
            )
        )
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            pytest.fail(f"{proc.args} did not exit: it started despite a bad setting")
        out.append((proc.returncode, stdout, stderr))
    return out


def test_bad_settings_exit_2_with_one_line(tmp_path):
    results = _run_all(tmp_path, CASES)
    for (case_id, _, _, words), (code, stdout, stderr) in zip(CASES, results, strict=True):
        lines = stderr.strip().splitlines()
        assert code == 2, (case_id, code, stderr)
        assert len(lines) == 1, (case_id, stderr)
        assert lines[0].startswith("respike: "), (case_id, lines)
        for word in words:
            assert word in lines[0], (case_id, word, lines[0])
        assert "Traceback" not in stderr and stdout == ""


def _start_failing(args, tmp_path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "respike", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    return proc.returncode, proc.stderr.strip()


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # an ephemeral port may be above 55535: its default fabric port would be refused first
        fabric = ["--fabric-port", str(free_port())]
        code, err = _start_failing(
            ["--port", str(port), *fabric, "--data-dir", str(tmp_path / "d")], tmp_path
        )
    assert code == 2 and len(err.splitlines()) == 1
    assert f"127.0.0.1:{port}" in err and "cannot listen" in err


def test_fabric_port_in_use(tmp_path):
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port + 10000))
        busy.listen()
        code, err = _start_failing(
            ["--port", str(port), "--data-dir", str(tmp_path / "d")], tmp_path
        )
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "fabric-port" in err and f"127.0.0.1:{port + 10000}" in err


def test_fabric_port_flag(start_node):
    """`--fabric-port` moves the fabric; a peer seeds from it as IP:PORT:FABRIC-PORT."""
    ports = [free_port() for _ in range(4)]
    first = start_node(args=["--fabric-port", str(ports[1])], port=ports[0])
    second = start_node(
        "[node]\nfabric-port = %d\n" % ports[3],
        port=ports[2],
        args=["--seed", f"127.0.0.1:{ports[0]}:{ports[1]}"],
    )

    def formed() -> bool:
        sizes = []
        for n in (first, second):
            with RawClient.to(n) as c:
                sizes.append(info_dict(c.call("INFO", "cluster")).get("cluster_size"))
        return sizes == ["2", "2"]

    wait_until(formed, 30, "the two nodes to form a cluster over the chosen fabric ports")
    assert f"fabric listening on 127.0.0.1:{ports[1]}" in first.log()
    assert f"fabric listening on 127.0.0.1:{ports[3]}" in second.log()


def test_unusable_bind_address(tmp_path):
    code, err = _start_failing(
        ["--bind", "192.0.2.1", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        tmp_path,
    )
    assert code == 2 and len(err.splitlines()) == 1 and "192.0.2.1" in err


def test_unusable_data_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for data_dir in (blocker, blocker / "sub"):
        code, err = _start_failing(
            ["--port", str(free_port()), "--data-dir", str(data_dir)], tmp_path
        )
        assert code == 2 and len(err.splitlines()) == 1, err
        assert err.startswith("respike: data-dir") and str(data_dir) in err


def test_unusable_log_file(tmp_path):
    code, err = _start_failing(
        [
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
            "--log-file",
            str(tmp_path / "no" / "such" / "dir.log"),
        ],
        tmp_path,
    )
    assert code == 2 and len(err.splitlines()) == 1 and "log-file" in err


def test_flags_override_the_file(start_node, tmp_path):
    port = free_port()
    node = start_node(
        f"[node]\nport = {port + 1}\nlog-level = 'debug'\n[namespaces.ns1]\n"
        "default-ttl = 60\nnsup-period = 5\n[namespaces.ns2]\n"
    )
    assert node.port != port + 1  # NodeProcess passes --port: the flag wins
    with RawClient.to(node) as c:
        config = as_map(c.call("CONFIG", "GET", "port", "log-level", "ns1.default-ttl"))
        assert config == {
            b"port": str(node.port).encode(),
            b"log-level": b"debug",
            b"ns1.default-ttl": b"60",
        }
        c.call("SET", "k", "v")  # no ns prefix: the first namespace is the default one
        assert 59 <= c.call("TTL", "k") <= 60
        assert c.call("SET", "ns2:k", "v") == b"OK" and c.call("TTL", "ns2:k") == -1


def test_no_config_at_all_serves_namespace_test(tmp_path):
    (tmp_path / "data").mkdir()
    proc = NodeProcess(data_dir=str(tmp_path / "data"))
    proc.start()
    try:
        with RawClient.to(proc) as c:
            assert c.call("SET", "test:k", "v") == b"OK"
            assert set(as_map(c.call("AS.NAMESPACES"))) == {b"test"}
        assert os.path.exists(tmp_path / "data" / "node-id")
    finally:
        proc.cleanup()
