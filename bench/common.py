"""Helpers shared by the benchmarks: starting servers, running redis-benchmark, reading a
process's CPU time and memory."""

from __future__ import annotations

import glob
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from respike.process import NodeProcess, free_port, ping, wait_until  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent busy (all cores; iowait counts as idle)."""
    with open("/proc/stat") as fh:
        fields = [int(f) for f in fh.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def device_toml(name: str = "test", **settings) -> str:
    values = {"storage-engine": "device", **settings}
    lines = [f"[namespaces.{name}]"]
    for key, value in values.items():
        key = key.replace("_", "-")
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def start_node(config: str, data_dir: str | None = None, timeout: float = 600) -> NodeProcess:
    return NodeProcess(config=config, data_dir=data_dir or "").start(timeout=timeout)


def start_redis(extra: list[str]) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            workdir,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: ping("127.0.0.1", port), 10, "redis-server")
    return proc, port, workdir


def redis_benchmark(
    port: int,
    test: str,
    requests: int,
    clients: int = 50,
    pipeline: int = 1,
    extra: list[str] | None = None,
    pid: int | None = None,
    host: str = "127.0.0.1",
) -> tuple[float, float, float]:
    """(requests per second, p50 ms, server CPU µs per request or 0) of one redis-benchmark test.

    Tests that run a preparation first (LRANGE_* pushes a list) report several lines; the
    one named after `test` is taken."""
    cmd = [
        "redis-benchmark",
        "-h",
        host,
        "-p",
        str(port),
        "-t",
        test,
        "-n",
        str(requests),
        "-c",
        str(clients),
        "-P",
        str(pipeline),
        "--csv",
        *(extra or []),
    ]
    before = cpu_seconds(pid) if pid else 0.0
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if run.returncode:
        raise RuntimeError(f"redis-benchmark failed: {run.stdout[-300:]} {run.stderr[-300:]}")
    used = (cpu_seconds(pid) - before) if pid else 0.0
    rows = [[c.strip('"') for c in line.split(",")] for line in run.stdout.splitlines()]
    rows = [r for r in rows if len(r) > 4 and r[0] != "test"]
    named = [r for r in rows if r[0].replace(" ", "_").upper().startswith(test.upper())]
    if not named and not rows:
        raise RuntimeError(f"no result from redis-benchmark: {run.stdout}")
    row = (named or rows)[-1]
    return float(row[1]), float(row[4]), used / requests * 1e6


def measured_benchmark(
    port: int,
    test: str,
    requests: int,
    clients: int,
    pipeline: int,
    extra: list[str] | None,
    pid: int,
) -> tuple[float, float, float, float, float]:
    """redis_benchmark's (req/s, p50 ms, server CPU µs/req), the whole machine's busy µs
    per request during it (redis-benchmark, the kernel's network work and any helper
    process included, which the server's own CPU time leaves out), and redis-benchmark's
    own CPU µs per request (the only child this process waits for meanwhile)."""
    busy = machine_busy()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps, p50, cpu = redis_benchmark(port, test, requests, clients, pipeline, extra, pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return rps, p50, cpu, (machine_busy() - busy) / requests * 1e6, client / requests * 1e6


def with_children(pid: int) -> list[int]:
    """`pid` and its child processes (respike's sync helper)."""
    kids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(path) as fh:
            kids += [int(k) for k in fh.read().split()]
    return [pid, *kids]


class SyncCounter:
    """Counts the fsync and fdatasync calls of processes (all their threads) while the
    block runs: `perf stat` on the syscall tracepoints. `count` stays None where perf is
    missing or not permitted. Shows how many writes one sync serves in each server."""

    EVENTS = "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync"

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.count: int | None = None
        self.proc: subprocess.Popen | None = None
        self._lines: list[str] = []

    def __enter__(self) -> SyncCounter:
        if shutil.which("perf") is None:
            return self
        pids = ",".join(map(str, self.pids))
        cmd = ["perf", "stat", "-x,", "-I", "100", "-e", self.EVENTS, "-p", pids]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        first = self.proc.stderr.readline()  # type: ignore[union-attr]  # the first interval: attached
        if "syscalls:" not in first:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        else:
            self._lines.append(first)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        self._lines += self.proc.communicate(timeout=30)[1].splitlines()
        fields = [line.split(",") for line in self._lines]
        self.count = sum(int(f[1]) for f in fields if len(f) > 3 and f[1].isdigit())


def stop_redis(proc: subprocess.Popen, workdir: str) -> None:
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


def median(values) -> float:
    return statistics.median(list(values))


def storage_info(port: int, namespace: str = "test") -> dict[str, str]:
    import redis

    section = redis.Redis(port=port, socket_timeout=60).info("storage")[namespace]
    return {k: str(v) for k, v in section.items()}
