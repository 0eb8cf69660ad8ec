"""The `respike` command line: its help lists every subcommand, `cluster-local` takes the
addresses and ports it is told, and `make run` passes options to the node."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
import redis

from respike.cli import SUBCOMMANDS
from respike.process import free_port, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "respike", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_subcommand():
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    assert SUBCOMMANDS, "no subcommands declared"
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+respike {name}\s", out.stdout, re.M), out.stdout
        sub = _run(name, "--help")
        assert sub.returncode == 0 and f"respike {name}" in sub.stdout, sub.stderr
    assert "respike-admin" in out.stdout


def test_cluster_local_help_agrees_with_readme():
    """Node k is on 127.0.0.k: the help and the README say the same."""
    text = _run("cluster-local", "--help").stdout
    assert "127.0.0.1, 127.0.0.2, ... 127.0.0.N" in text
    for option in ("--base-ip", "--ip-step", "--port", "--port-step", "--nodes", "--dir"):
        assert option in text
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    assert "cluster-local --nodes 3" in readme and "127.0.0.1, 127.0.0.2, 127.0.0.3" in readme


@pytest.mark.parametrize(
    "args, words",
    [
        (["--base-ip", "nowhere"], ["--base-ip", "nowhere"]),
        (["--ip-step", "0"], ["share an address"]),
        (["--port", "60000"], ["--port", "60000"]),
    ],
)
def test_cluster_local_bad_options(tmp_path, args, words):
    out = _run("cluster-local", "--dir", str(tmp_path), *args)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    for word in words:
        assert word in out.stderr


def _reader(proc: subprocess.Popen, lines: list[str]) -> threading.Thread:
    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _bindable(port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def _two_free_ports() -> int:
    """PORT and PORT + 1 free, with their fabric ports (+10000)."""
    for _ in range(100):
        port = free_port()
        if port + 10001 <= 65535 and _bindable(port + 1) and _bindable(port + 10001):
            return port
    raise RuntimeError("no two consecutive free ports")


def test_cluster_local_on_chosen_addresses_and_ports(tmp_path):
    """--ip-step 0 --port-step 1: every node on one address, consecutive ports."""
    port = _two_free_ports()
    proc = subprocess.Popen(
        [sys.executable, "-m", "respike", "cluster-local", "--nodes", "2", "--dir", str(tmp_path)]
        + ["--base-ip", "127.0.0.1", "--ip-step", "0", "--port", str(port), "--port-step", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    thread = _reader(proc, lines)
    try:
        wait_until(
            lambda: any("is up" in line for line in lines) or proc.poll() is not None,
            90,
            "cluster-local to report the cluster up",
        )
        assert proc.poll() is None, "".join(lines)
        text = "".join(lines)
        assert f"redis-cli -h 127.0.0.1 -p {port} " in text
        assert f"redis-cli -h 127.0.0.1 -p {port + 1} " in text
        for p in (port, port + 1):
            info = redis.Redis(port=p, socket_timeout=5).info("cluster")
            assert info["cluster_size"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        thread.join(10)
    assert proc.returncode == 0, "".join(lines)
    for p in (port, port + 1):  # the nodes stopped with it
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=p, socket_timeout=2).ping()


def test_make_run_passes_options(tmp_path):
    """`make run ARGS=...` (and PORT=) reach the node, and make says what it starts.

    NATIVE= skips building the compiled modules; BIN= is this interpreter's venv.
    """
    port = free_port()
    bin_dir = os.path.dirname(sys.executable)
    proc = subprocess.Popen(
        ["make", "-s", "-C", ROOT, "run", "NATIVE=", f"BIN={bin_dir}", f"PORT={port}"]
        + [f"ARGS=--data-dir {tmp_path / 'd'} --log-level debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make and the node in their own group, stopped together
    )
    lines: list[str] = []
    thread = _reader(proc, lines)
    try:
        wait_until(
            lambda: any("serving namespaces" in line for line in lines) or proc.poll() is not None,
            60,
            "the node started by make run to log where it serves",
        )
        text = "".join(lines)
        assert proc.poll() is None, text
        assert f"respike: starting {bin_dir}/respike --port {port} --data-dir" in text
        assert f"on 127.0.0.1:{port} (redis-cli -h 127.0.0.1 -p {port};" in text
        r = redis.Redis(port=port, socket_timeout=5)
        assert r.config_get("log-level") == {"log-level": "debug"}
        assert r.config_get("port") == {"port": str(port)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        thread.join(10)
