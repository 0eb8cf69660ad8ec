"""The real `redis-cli` against a respike node: commands as arguments, commands piped on
stdin, mass insertion with --pipe, --scan/--bigkeys, and the interactive mode (which
builds its help from COMMAND DOCS). Where it makes sense the output is compared with the
same invocation against redis-server."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time

import pytest

from tests.helpers import RawClient

pytestmark = pytest.mark.skipif(
    shutil.which("redis-cli") is None, reason="redis-cli is not installed"
)


def cli(
    host: str, port: int, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["redis-cli", "-h", host, "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def fresh(node, redis_server):
    for host, port in ((node.host, node.port), redis_server):
        with RawClient(host, port) as c:
            c.call("FLUSHALL")
    yield


def both(node, redis_server, *args: str, stdin: bytes | None = None):
    return cli(node.host, node.port, *args, stdin=stdin), cli(*redis_server, *args, stdin=stdin)


@pytest.mark.parametrize(
    "args",
    [
        ["SET", "k", "v"],
        ["GET", "nokey"],
        ["NOPE", "x"],
        ["HSET", "h", "a", "1", "b", "2"],
        ["INCRBY", "n", "5"],
        ["MGET", "a", "b"],
        ["SET", "k", "v", "EX", "0"],
        ["TTL", "nokey"],
        ["-3", "HGETALL", "h"],
        ["--no-raw", "HGETALL", "h"],
        ["-r", "3", "INCR", "c"],
        ["--raw", "ECHO", "multi\nline"],
        ["DBSIZE"],
        ["TYPE", "h"],
        ["HGETALL", "nokey"],
    ],
)
def test_arguments_same_output_as_redis(node, redis_server, fresh, args):
    setup = ["HSET", "h", "x", "y"]
    both(node, redis_server, *setup)
    mine, theirs = both(node, redis_server, *args)
    assert (mine.returncode, mine.stdout, mine.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )


def test_argument_from_stdin(node, fresh):
    result = cli(node.host, node.port, "-x", "SET", "blob", stdin=b"hello\x00world")
    assert result.stdout == b"OK\n"
    assert cli(node.host, node.port, "STRLEN", "blob").stdout == b"11\n"


SCRIPT = b"""SET greeting hello
GET greeting
APPEND greeting " world"
GETRANGE greeting 0 4
HSET user:1 name ann age 31
HINCRBY user:1 age 1
HGETALL user:1
EXPIRE greeting 100
TTL greeting
INCRBYFLOAT price 2.5
MSET a 1 b 2
MGET a b nosuch
TYPE user:1
GET user:1
NOPE arg
SET toolong
RENAME a z
EXISTS a z
KEYS [az]
DEL z b
MULTI
INCR counter
INCR counter
EXEC
PING
ECHO "quoted value"
"""


def test_piped_commands_same_output_as_redis(node, redis_server, fresh):
    mine, theirs = both(node, redis_server, stdin=SCRIPT)
    assert mine.returncode == theirs.returncode == 0
    assert mine.stderr == b""  # no warnings about COMMAND DOCS (and no assertion abort)
    assert mine.stdout == theirs.stdout
    assert b"WRONGTYPE" in mine.stdout and b"unknown command 'NOPE'" in mine.stdout


def test_piped_native_commands(node, fresh):
    script = (
        b"AS.PUT test:users:1 BINS name ann age 31\nAS.GET test:users:1 name\n"
        b"AS.PUT test:users:1 EXISTS CREATE_ONLY BINS x 1\nAS.NAMESPACES\n"
    )
    result = cli(node.host, node.port, stdin=script)
    assert result.returncode == 0 and result.stderr == b""
    out = result.stdout.decode()
    assert out.startswith("OK\n") and "ann" in out and "KEY_EXISTS key already exists (5)" in out


def test_resp3_piped(node, fresh):
    result = cli(
        node.host, node.port, "-3", stdin=b"HSET h f v\nHGETALL h\nAS.GETMETA h\nINFO server\n"
    )
    assert result.returncode == 0 and result.stderr == b""
    assert b"generation" in result.stdout and b"redis_version:7.2.0" in result.stdout


def test_mass_insertion_with_pipe(node, fresh):
    payload = b"".join(
        b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(k), k)
        for k in (b"mass:%d" % i for i in range(5000))
    )
    result = cli(node.host, node.port, "--pipe", stdin=payload)
    assert result.returncode == 0, result.stderr
    assert b"errors: 0, replies: 5000" in result.stdout
    assert cli(node.host, node.port, "DBSIZE").stdout == b"5000\n"


def test_scan_and_bigkeys(node, redis_server, fresh):
    for host, port in ((node.host, node.port), redis_server):
        with RawClient(host, port) as c:
            for i in range(300):
                c.call("SET", f"s:{i}", "x" * (i % 7))
            c.call("HSET", "bighash", *[f"f{i}" for i in range(40)])
    mine, theirs = both(node, redis_server, "--scan", "--pattern", "s:1*")
    assert sorted(mine.stdout.split()) == sorted(theirs.stdout.split())
    assert len(mine.stdout.split()) == 111
    mine, theirs = both(node, redis_server, "--bigkeys")
    assert mine.returncode == 0

    def summary(out: bytes) -> list[str]:  # the totals, not the scan-order-dependent progress
        return [line for line in out.decode().splitlines() if "% of keys, avg size" in line]

    assert summary(mine.stdout) == summary(theirs.stdout)
    assert any(line.startswith("300 strings") for line in summary(mine.stdout))


def test_interactive_help_from_command_docs(node, fresh):
    """A terminal session: redis-cli fetches COMMAND DOCS for help and hints."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["redis-cli", "-h", node.host, "-p", str(node.port)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "dumb", "HOME": "/nonexistent"},
    )
    os.close(slave)

    pending = [b""]  # output read but not yet matched

    def read_until(text: bytes, timeout: float = 10.0) -> bytes:
        """Output up to and including `text`; what follows it stays for the next call."""
        out = pending[0]
        deadline = time.monotonic() + timeout
        while text not in out:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError(f"waited for {text!r}, got {out!r} (exit {proc.poll()})")
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        end = out.index(text) + len(text)
        pending[0] = out[end:]
        return out[:end]

    try:
        read_until(b">")
        os.write(master, b"SET k v\r")
        read_until(b"OK")
        os.write(master, b"help SET\r")
        read_until(b"Sets the string value of a key")
        read_until(b"group:")
        read_until(b"string")
        os.write(master, b"help @hash\r")
        read_until(b"HSET")
        os.write(master, b"help AS.PUT\r")
        read_until(b"Aerospike write policies")
        os.write(master, b"GET k\r")
        read_until(b'"v"')
        os.write(master, b"quit\r")
        proc.wait(10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
