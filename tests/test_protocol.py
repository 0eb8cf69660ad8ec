"""The wire protocol through raw sockets: inline commands, pipelining, malformed and
oversized requests, binary junk. Every bad request gets Redis's answer, the server keeps
serving other clients and no data changes."""

from __future__ import annotations

import os
import random
import socket
import threading

import pytest

from tests.helpers import RawClient, encode


def exchange(
    host: str, port: int, data: bytes, chunks: int = 1, first: float = 0.3, idle: float = 0.1
) -> tuple[bytes, bool]:
    """Send `data` (optionally in pieces); return (everything answered, closed by server).

    Waits up to `first` seconds for an answer to start, then until the server has been
    quiet for `idle` seconds (or closed the connection)."""
    with socket.create_connection((host, port), timeout=5) as s:
        step = max(1, len(data) // chunks)
        try:
            for i in range(0, len(data), step):
                s.sendall(data[i : i + step])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered an error and closed before reading it all
        out = b""
        s.settimeout(first)
        try:
            while True:
                got = s.recv(1 << 16)
                if not got:
                    return out, True
                out += got
                s.settimeout(idle)
        except TimeoutError:
            return out, False
        except ConnectionResetError:
            return out, True


def both(node, redis_server, data: bytes, chunks: int = 1):
    """The same exchange with respike and with redis-server, at the same time."""
    results = {}

    def run(name, host, port):
        results[name] = exchange(host, port, data, chunks)

    threads = [
        threading.Thread(target=run, args=("mine", node.host, node.port)),
        threading.Thread(target=run, args=("theirs", *redis_server)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results["mine"], results["theirs"]


@pytest.fixture
def data_guard(node):
    """Seed some data; after the test, the node must still serve it unchanged."""
    with RawClient.to(node) as c:
        c.call("FLUSHALL")
        c.call("SET", "guard", "precious")
        c.call("HSET", "guard:h", "f", "v")
    yield
    with RawClient.to(node) as c:
        assert c.call("PING") == b"PONG"
        assert c.call("GET", "guard") == b"precious"
        assert c.call("HGET", "guard:h", "f") == b"v"
        assert c.call("DBSIZE") == 2


# Requests whose answers must be byte-for-byte Redis's (checked against redis-server).
CASES = [
    b"PING\r\n",
    b"PING\n",
    b"  PING   \r\n",
    b"\r\n\r\nPING\r\n",
    b'ECHO "hello world"\r\n',
    b'ECHO "\\x41\\n\\t"\r\n',
    b"ECHO 'it\\'s'\r\n",
    b'ECHO ""\r\n',
    b"SET inl 'x\r\n",
    b'SET inl "x"y\r\n',
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
    b"*0\r\n*1\r\n$4\r\nPING\r\n",
    b"*-1\r\n*1\r\n$4\r\nPING\r\n",
    b"*x\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n:1\r\n",
    b"*1\r\n$x\r\nPING\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$4\r\nPINGxx\r\n",
    b"*3000000000\r\n",
    b"*1\r\n$600000000\r\n",
    b"*2\r\n$3\r\nGET\r\n:1\r\n",
    b"*+1\r\n$4\r\nPING\r\n",
    b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*1\r\n$ 4\r\nPING\r\n",
    b"*1\n$4\nPING\n",
    b"$4\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
    b"GET a b c\r\n",
    b"*1\r\n$4\r\nPI",
    b"A" * 70000,
    b"*1\r\n$" + b"1" * 70000,
    b"*" + b"1" * 70000,
    b"*1\r\n$4\r\nPING\r\n*x\r\n*1\r\n$4\r\nPING\r\n",
    b"NOSUCHCMD a b\r\n*1\r\n$4\r\nPING\r\n",
]


@pytest.mark.parametrize("data", CASES, ids=[repr(c[:24]) for c in CASES])
def test_answers_match_redis(node, redis_server, data_guard, data):
    mine, theirs = both(node, redis_server, data)
    assert mine == theirs


@pytest.mark.parametrize(
    "data",
    [
        b"*1\r\n$4\r\nPING\r\n" * 3,
        b'SET p "a b"\r\nGET p\r\n*2\r\n$3\r\nGET\r\n$1\r\np\r\n',
        b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$1\r\nq\r\n",
    ],
    ids=["mbulk", "mixed-inline", "bulk-values"],
)
def test_byte_by_byte_delivery(node, redis_server, data_guard, data):
    """The same request split into single bytes answers exactly as in one piece."""
    whole, theirs = both(node, redis_server, data)
    pieces = exchange(node.host, node.port, data, chunks=len(data))
    assert whole == pieces == theirs
    with RawClient.to(node) as c:
        c.call("DEL", "p", "q")


def test_protocol_error_closes_only_that_connection(node, data_guard):
    with RawClient.to(node) as bystander:
        bystander.send(b"*2\r\n$3\r\nGET\r\n$5\r\ngua")  # half a command, waiting
        out, closed = exchange(node.host, node.port, b"*1\r\n$x\r\n")
        assert out == b"-ERR Protocol error: invalid bulk length\r\n" and closed
        bystander.send(b"rd\r\n")
        assert bystander.read() == b"precious"  # the other connection carries on


def test_pipelining_many_commands(node, data_guard):
    with RawClient.to(node) as c:
        n = 5000
        c.send(
            b"".join(encode("SET", f"p{i}", i) for i in range(n))
            + b"".join(encode("GET", f"p{i}") for i in range(n))
            + encode("DEL", *[f"p{i}" for i in range(n)])
        )
        for _ in range(n):
            assert c.read() == b"OK"
        for i in range(n):
            assert c.read() == str(i).encode()
        assert c.read() == n


def test_pipeline_with_errors_in_the_middle(node, data_guard):
    with RawClient.to(node) as c:
        c.send(
            encode("SET", "m", "1")
            + encode("NOSUCH")
            + encode("GET")
            + encode("INCR", "guard")
            + encode("INCR", "m")
            + b"PING\r\n"
        )
        assert c.read() == b"OK"
        assert str(c.read()).startswith("ERR unknown command 'NOSUCH'")
        assert str(c.read()) == "ERR wrong number of arguments for 'get' command"
        assert str(c.read()) == "ERR value is not an integer or out of range"
        assert c.read() == 2
        assert c.read() == b"PONG"
        c.call("DEL", "m")


def test_large_values_and_many_arguments(node, data_guard):
    with RawClient.to(node) as c:
        value = random.Random(1).randbytes(900_000)
        assert c.call("SET", "bigv", value) == b"OK"
        assert c.call("GET", "bigv") == value
        text = c.error("SET", "bigv", value + value)  # over max-record-size (1 MiB)
        assert text.startswith("RECORD_TOO_BIG") and text.endswith("(13)")
        assert c.call("GET", "bigv") == value  # unchanged, connection still open
        args = []
        for i in range(20_000):
            args += [f"f{i}", "v"]
        assert c.call("HSET", "wide", *args) == 20_000
        assert c.call("HLEN", "wide") == 20_000
        assert c.call("DEL", "bigv", "wide") == 2


def test_proto_max_bulk_len(start_node):
    node = start_node("[node]\nproto-max-bulk-len = '4K'\n")
    out, closed = exchange(node.host, node.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n")
    assert out == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    # also when the whole oversized command arrives at once, or after a good one
    for data in (encode("SET", "k", "x" * 5000), encode("PING") + encode("SET", "k", "x" * 5000)):
        out, closed = exchange(node.host, node.port, data)
        assert out.endswith(b"-ERR Protocol error: invalid bulk length\r\n") and closed
    with RawClient.to(node) as c:
        assert c.call("EXISTS", "k") == 0
        assert c.call("SET", "k", "x" * 4096) == b"OK"
        assert c.error("APPEND", "k", "x") == (
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        )
        assert c.call("STRLEN", "k") == 4096


def test_binary_junk_never_hurts(node, data_guard):
    rng = random.Random(20240601)
    for i in range(30):
        junk = rng.randbytes(rng.randrange(1, 400))
        if i % 3 == 0:
            junk = b"*" + junk  # looks like a multibulk at first
        elif i % 3 == 1:
            junk = b"*2\r\n$3\r\nGET\r\n$" + junk
        out, closed = exchange(
            node.host, node.port, junk, chunks=rng.randrange(1, 4), first=0.05, idle=0.02
        )
        assert out == b"" or out.startswith((b"-", b"+", b"$", b":", b"*")), out
    with RawClient.to(node) as c:
        assert c.call("PING") == b"PONG"


def test_clients_keep_being_served_during_abuse(node, data_guard):
    stop = threading.Event()
    errors: list[BaseException] = []

    def abuse():
        rng = random.Random(7)
        while not stop.is_set():
            try:
                exchange(node.host, node.port, b"*1\r\n" + rng.randbytes(50), first=0.01, idle=0.01)
            except OSError as exc:  # pragma: no cover - a refused connection would be a bug
                errors.append(exc)

    thread = threading.Thread(target=abuse)
    thread.start()
    try:
        with RawClient.to(node) as c:
            for i in range(300):
                assert c.call("INCR", "counter") == i + 1
    finally:
        stop.set()
        thread.join(10)
    assert not errors
    with RawClient.to(node) as c:
        c.call("DEL", "counter")


def test_resp3_connection_survives_bad_input(node, data_guard):
    with RawClient.to(node, 3) as c:
        assert c.error("NOSUCH").startswith("ERR unknown command")
        assert c.call("HGETALL", "guard:h") == {b"f": b"v"}
        c.send(b"*1\r\n$x\r\n")
        assert str(c.read()) == "ERR Protocol error: invalid bulk length"
        assert c.is_closed()


# Elements hiredis parses that are not bulk strings (the fast path hands them over as they
# are); Redis answers `Protocol error: expected '$', got ...` and closes the connection.
NOT_BULK = [b"-err", b":1", b"_", b",1.5", b"#t", b"%1\r\n$1\r\na\r\n$1\r\nb", b"*1\r\n$1\r\na"]


@pytest.mark.parametrize(
    "command",
    [
        b"GET",
        b"NOSUCHCMD",
    ],
)
def test_non_bulk_element_is_a_protocol_error_without_a_traceback(node, data_guard, command):
    """No client input puts a traceback in the node's log."""
    before = os.path.getsize(node.log_path)
    for element in NOT_BULK:
        data = b"*2\r\n$%d\r\n%s\r\n%s\r\n" % (len(command), command, element)
        answer, closed = exchange(node.host, node.port, data)
        assert answer.startswith(b"-ERR Protocol error") and closed, (element, answer)
    with RawClient.to(node) as c:
        assert c.call("PING") == b"PONG"  # every answer above is written: so is any log line
    with open(node.log_path, errors="replace") as fh:
        fh.seek(before)
        logged = fh.read()
    assert "Traceback" not in logged and "Fatal error" not in logged, logged
