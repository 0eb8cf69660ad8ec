"""What the application tests share: worker subprocesses that are always stopped, and the
rule for commands respike lacks.

An application that reaches a command respike does not implement yet (the reply is
`ERR unknown command 'X'`) skips its test naming X, so the suite stays green on a branch
without that command; with RESPIKE_COMPAT_STRICT=1 the same test fails instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from respike.process import NodeProcess, free_port, ping, wait_until

STRICT = os.environ.get("RESPIKE_COMPAT_STRICT") == "1"
REFERENCE = os.environ.get("RESPIKE_COMPAT_REFERENCE") == "1"
UNKNOWN_COMMAND = re.compile(r"unknown command [`']([^`']+)[`']", re.IGNORECASE)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def missing_command(text: str) -> str | None:
    """The command named by an `unknown command` error somewhere in `text`, if any."""
    match = UNKNOWN_COMMAND.search(text)
    return match.group(1).upper() if match else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def skip_if_missing(text: str) -> None:
    """Skip the running test when `text` shows an unknown command (fail when strict)."""
    name = missing_command(text)
    if name is None:
        return
    message = f"respike does not implement {name} yet"
    if STRICT:
        pytest.fail(f"{message} (RESPIKE_COMPAT_STRICT=1)")
    pytest.skip(message)


def strict_check(text: str) -> None:
    """With RESPIKE_COMPAT_STRICT=1, fail when `text` (a worker's log) shows an unknown
    command that the application survived (rq's pubsub thread logs it and goes on)."""
    name = missing_command(text)
    if STRICT and name is not None:
        pytest.fail(f"the application met an unknown command {name}:\n{text}")


@contextmanager
def tolerate_missing_commands() -> Iterator[None]:
    """Around application code: an error caused by an unknown command skips the test."""
    try:
        yield
    except Exception as exc:
        for link in _chain(exc):
            skip_if_missing(str(link))
        raise


def url(proc: NodeProcess) -> str:
    return f"redis://{proc.host}:{proc.port}/0"


@dataclass
class Worker:
    """An application's worker process (celery, rq) whose output goes to a file, so a test
    can show it when the worker did not do what it should."""

    argv: list[str]
    log_path: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        env.update(self.env)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        return self

    def output(self) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()[-20000:]
        except OSError:
            return ""

    def wait(self, timeout: float) -> int:
        """Wait for the worker to exit by itself (a burst worker); kill it after `timeout`."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise AssertionError(
                f"worker still running after {timeout}s:\n{self.output()}"
            ) from exc

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL if it takes longer than `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def python_worker(args: list[str], log_path: str, env: dict[str, str] | None = None) -> Worker:
    """A worker run by this interpreter (`python -m celery ...`, `python -m rq.cli ...`)."""
    return Worker([sys.executable, *args], log_path, env or {})


@dataclass
class ReferenceServer:
    """A redis-server in the place of the respike node (RESPIKE_COMPAT_REFERENCE=1): a test
    that fails against it is wrong, not respike."""

    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen | None = None
    workdir: str = ""

    def start(self) -> ReferenceServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.port = self.port or free_port()
        self.workdir = tempfile.mkdtemp(prefix="redis-ref-")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: ping(self.host, self.port), 10, "redis-server")
        return self

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)
