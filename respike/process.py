"""Start, wait for and stop node processes: used by `respike cluster-local`, the tests,
the compat checks and the benchmarks, so all of them run real nodes the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now on `host` and whose +10000 (fabric) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind((host, port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair found")


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> None:
    """Poll a condition instead of sleeping a fixed time; raise TimeoutError naming it."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            # -NOAUTH: the node is up and asks for a password (requirepass)
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@dataclass
class NodeProcess:
    """One `respike` process with its own data dir and config file."""

    host: str = "127.0.0.1"
    port: int = 0
    config: str = ""
    args: list[str] = field(default_factory=list)
    data_dir: str = ""
    log_path: str = ""
    proc: subprocess.Popen | None = None
    _own_dir: tempfile.TemporaryDirectory | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port(self.host)
        if not self.data_dir:
            self._own_dir = tempfile.TemporaryDirectory(prefix="respike-")
            self.data_dir = self._own_dir.name
        self.log_path = self.log_path or os.path.join(self.data_dir, "node.log")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "respike",
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            self.data_dir,
        ]
        if self.config:
            path = os.path.join(self.data_dir, "respike.toml")
            with open(path, "w") as fh:
                fh.write(self.config)
            cmd += ["--config", path]
        return cmd + self.args

    def start(self, timeout: float = 30.0) -> NodeProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_until(
                lambda: self.proc.poll() is not None or ping(self.host, self.port),
                timeout,
                f"node {self.address} to answer PING",
            )
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"node {self.address} exited at start-up:\n{self.log()}")
        return self

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()[-200000:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)  # type: ignore[union-attr]

    def kill(self) -> None:
        """kill -9, then reap."""
        if self.alive():
            self.proc.kill()  # type: ignore[union-attr]
            self.proc.wait(10)  # type: ignore[union-attr]

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (clean shutdown), then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
