"""Shared test helpers: a raw RESP client (exact bytes and error texts, no client-side
parsing or retries) and small utilities. No mocks: everything talks to real processes."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest

from respike.process import free_port, ping, wait_until

__all__ = ["RawClient", "as_map", "encode", "wait_until", "info_dict", "namespace_stats"]


def encode(*args: Any) -> bytes:
    """A request as a RESP multibulk."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class RawClient:
    """One TCP connection speaking RESP by hand.

    `call` returns the parsed reply; an error reply comes back as a `hiredis.ReplyError`
    whose text is the whole line after '-' (redis-py strips the `ERR ` prefix, this does
    not). With proto=3 the connection starts with HELLO 3.
    """

    def __init__(self, host: str, port: int, proto: int = 2, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = hiredis.Reader()
        self.proto = proto
        if proto == 3:
            reply = self.call("HELLO", "3")
            assert isinstance(reply, dict) and reply[b"proto"] == 3, reply

    @classmethod
    def to(cls, node, proto: int = 2) -> RawClient:
        return cls(node.host, node.port, proto)

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Any:
        """The next reply; raises ConnectionError if the server closed the connection."""
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args: Any) -> Any:
        self.send(encode(*args))
        return self.read()

    def error(self, *args: Any) -> str:
        """Run a command that must fail; returns the full error text."""
        reply = self.call(*args)
        assert isinstance(reply, hiredis.ReplyError), f"{args!r} answered {reply!r}, not an error"
        return str(reply)

    def read_raw(self, timeout: float = 2.0) -> bytes:
        """Whatever bytes arrive until the server closes or `timeout` passes quietly."""
        self.sock.settimeout(timeout)
        out = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                out += data
        except TimeoutError:
            pass
        return out

    def is_closed(self, timeout: float = 2.0) -> bool:
        """True once the server has closed the connection (waits up to `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                return False
            except OSError:
                return True
            if not data:
                return True
        return False


def as_map(reply: Any) -> dict:
    """A map reply as a dict: RESP3 maps already are one, RESP2 sends a flat array."""
    if isinstance(reply, dict):
        return reply
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def info_dict(text: bytes | str) -> dict[str, str]:
    """INFO text as {field: value} (section headers dropped)."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, _, v = line.partition(":")
            out[k] = v
    return out


def namespace_stats(client, ns: str = "test") -> dict[str, str]:
    """One namespace's statistics from INFO namespace (works with redis-py and RawClient)."""
    if isinstance(client, RawClient):
        text = client.call("INFO", "namespace")
    else:
        text = client.execute_command("INFO", "namespace")
        if isinstance(text, dict):  # redis-py folds INFO into a dict
            value = text[ns]
            if isinstance(value, dict):
                return {k: str(v) for k, v in value.items()}
            text = f"{ns}:{value}"
    line = info_dict(text)[ns]
    return dict(item.split("=", 1) for item in line.split(","))


# Redis's exact error texts, as the tests expect them (written out, not imported from respike).
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
SYNTAX = "ERR syntax error"


def arity(cmd: str) -> str:
    return f"ERR wrong number of arguments for '{cmd}' command"


@contextlib.contextmanager
def redis_server_process(prefix: str) -> Iterator[subprocess.Popen]:
    """A reference redis-server on a free port of 127.0.0.1, no persistence; killed at the
    end (a test may have stopped it already, by SHUTDOWN NOSAVE). Skips the test when
    redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix=prefix)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    proc.port = port  # type: ignore[attr-defined]
    try:
        wait_until(lambda: ping("127.0.0.1", port), 10, "redis-server")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
