"""Pub/sub against a real node, compared frame by frame with redis-server: raw RESP2 and
RESP3 connections (subscribe/unsubscribe sequences, patterns, shard channels, counts,
PUBSUB introspection, subscribed-mode errors, RESET, ordering, binary names, many
subscribers) and redis-py's PubSub."""

from __future__ import annotations

import re
import socket
import time

import hiredis
import pytest
import redis

from respike.process import NodeProcess
from tests.helpers import encode, info_dict, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def servers(redis_server):
    """(respike, redis-server) addresses: a node of its own (the counts are global)."""
    proc = NodeProcess().start()
    yield {"respike": (proc.host, proc.port), "redis": redis_server}
    proc.cleanup()


class Conn:
    """A raw connection that keeps the exact bytes of every frame it receives."""

    def __init__(self, addr: tuple[str, int], proto: int):
        self.sock = socket.create_connection(addr, timeout=5)
        self.reader = hiredis.Reader()
        self.proto = proto
        if proto == 3:
            self.send("HELLO", "3")
            self.frames(1)

    def send(self, *args) -> None:
        self.sock.sendall(encode(*args))

    def frames(self, n: int) -> list[bytes]:
        """The next `n` frames, each as its raw bytes."""
        out = []
        buf = b""
        while len(out) < n:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            buf += data
            out, buf = _split(out, buf)
        assert not buf, f"more than {n} frames: {buf!r}"
        return out

    def quiet(self, wait: float = 0.15) -> bytes:
        """Whatever arrives within `wait` (nothing, when nothing should)."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1 << 16)
        except TimeoutError:
            return b""
        finally:
            self.sock.settimeout(5)

    def close(self) -> None:
        self.sock.close()


def _split(out: list[bytes], buf: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete frames off the front of `buf` (a frame ends where hiredis says)."""
    while buf:
        for end in range(1, len(buf) + 1):
            if buf[end - 1 : end] != b"\n":
                continue
            r = hiredis.Reader()
            r.feed(buf[:end])
            if r.gets() is not False:
                out.append(buf[:end])
                buf = buf[end:]
                break
        else:
            break
    return out, buf


_VOLATILE = re.compile(rb"(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|rbs|rbp|tot-mem)=\S*")


def _normal(frame: bytes) -> bytes:
    """CLIENT INFO text without what differs between two servers by nature."""
    if b"txt:id=" in frame or frame.startswith(b"$") and b"id=" in frame:
        text = _VOLATILE.sub(rb"\1=?", frame)
        text = re.sub(rb" lib-name=\S* lib-ver=\S*", b"", text)
        return re.sub(rb"^[=$]\d+", b"", text)
    return frame


def run(addr, proto: int, clients: int, steps) -> list[list[bytes]]:
    """Run `steps` — (client, command, {client: frames expected}) — and return every
    client's frames per step (raw bytes)."""
    conns = [Conn(addr, proto) for _ in range(clients)]
    try:
        out = []
        for who, cmd, expect in steps:
            conns[who].send(*cmd)
            got = []
            for i, n in sorted(expect.items()):
                got.append([_normal(f) for f in conns[i].frames(n)])
            out.append(got)
        for c in conns:
            assert c.quiet() == b""
        return out
    finally:
        for c in conns:
            c.close()


def _unordered_patterns(frames: list[bytes]) -> list[bytes]:
    """One message matching several of a client's patterns comes once per pattern in
    Redis's dict order (a random hash seed): those runs are compared sorted."""
    out: list[bytes] = []
    run: list[bytes] = []
    for f in frames + [b""]:
        if b"$8\r\npmessage\r\n" in f:
            run.append(f)
            continue
        out += sorted(run)
        run = []
        if f:
            out.append(f)
    return out


def same(servers, proto: int, clients: int, steps) -> list[list[bytes]]:
    mine, theirs = (
        [[_unordered_patterns(f) for f in step] for step in run(servers[s], proto, clients, steps)]
        for s in ("respike", "redis")
    )
    for step, a, b in zip(steps, mine, theirs, strict=True):
        assert a == b, f"step {step}: respike {a} redis {b}"
    return mine


PROTOS = pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])


@PROTOS
def test_subscribe_unsubscribe_sequences(servers, proto):
    same(
        servers,
        proto,
        2,
        [
            (0, ("SUBSCRIBE", "s1:a"), {0: 1}),
            (0, ("SUBSCRIBE", "s1:a", "s1:b", "s1:c"), {0: 3}),
            (1, ("PUBLISH", "s1:a", "hello"), {0: 1, 1: 1}),
            (1, ("PUBLISH", "s1:nobody", "x"), {1: 1}),
            (0, ("UNSUBSCRIBE", "s1:b", "s1:nosuch"), {0: 2}),
            (1, ("PUBLISH", "s1:b", "gone"), {1: 1}),
            (0, ("UNSUBSCRIBE", "s1:a"), {0: 1}),
            (0, ("UNSUBSCRIBE", "s1:c"), {0: 1}),
            (0, ("UNSUBSCRIBE",), {0: 1}),
            (0, ("PUNSUBSCRIBE",), {0: 1}),
            (0, ("SUNSUBSCRIBE",), {0: 1}),
            (0, ("SUBSCRIBE", "s1:z"), {0: 1}),
            (0, ("UNSUBSCRIBE",), {0: 1}),
            (0, ("PING",), {0: 1}),
            (0, ("GET", "s1:k"), {0: 1}),
        ],
    )


@PROTOS
def test_patterns_and_counts(servers, proto):
    same(
        servers,
        proto,
        3,
        [
            (0, ("PSUBSCRIBE", "p1:*", "p1:news.?", "p1:[ab]x", "p1:\\*"), {0: 4}),
            (1, ("SUBSCRIBE", "p1:news.1"), {1: 1}),
            (1, ("PSUBSCRIBE", "p1:n*"), {1: 1}),
            (2, ("PUBLISH", "p1:news.1", "m1"), {0: 2, 1: 2, 2: 1}),
            (2, ("PUBLISH", "p1:ax", "m2"), {0: 2, 2: 1}),
            (2, ("PUBLISH", "p1:cx", "m3"), {0: 1, 2: 1}),
            (2, ("PUBLISH", "p1:*", "m4"), {0: 2, 2: 1}),
            (2, ("PUBLISH", "other", "m5"), {2: 1}),
            (0, ("PUNSUBSCRIBE", "p1:*", "p1:nosuch"), {0: 2}),
            (2, ("PUBLISH", "p1:cx", "m6"), {2: 1}),
            (1, ("SUBSCRIBE", "p1:x"), {1: 1}),
            (1, ("PUNSUBSCRIBE", "p1:n*"), {1: 1}),
            (1, ("UNSUBSCRIBE", "p1:news.1", "p1:x"), {1: 2}),
        ],
    )


@PROTOS
def test_shard_channels(servers, proto):
    same(
        servers,
        proto,
        2,
        [
            (0, ("SUBSCRIBE", "h1:a"), {0: 1}),
            (0, ("SSUBSCRIBE", "h1:a", "h1:b"), {0: 2}),
            (0, ("PSUBSCRIBE", "h1:*"), {0: 1}),
            (1, ("SPUBLISH", "h1:a", "s"), {0: 1, 1: 1}),
            (1, ("PUBLISH", "h1:a", "p"), {0: 2, 1: 1}),
            (1, ("SPUBLISH", "h1:zz", "s"), {1: 1}),
            (1, ("PUBSUB", "SHARDNUMSUB", "h1:a", "h1:b", "h1:none"), {1: 1}),
            (1, ("PUBSUB", "SHARDCHANNELS", "h1:[a]"), {1: 1}),
            (0, ("SUNSUBSCRIBE", "h1:a"), {0: 1}),
            (0, ("SUNSUBSCRIBE",), {0: 1}),
            (0, ("SUNSUBSCRIBE",), {0: 1}),
            (0, ("UNSUBSCRIBE",), {0: 1}),
            (0, ("PUNSUBSCRIBE",), {0: 1}),
        ],
    )


@PROTOS
def test_introspection(servers, proto):
    steps = [
        (0, ("SUBSCRIBE", "i1:a", "i1:b"), {0: 2}),
        (1, ("SUBSCRIBE", "i1:a"), {1: 1}),
        (1, ("PSUBSCRIBE", "i1:x*", "i1:y*"), {1: 2}),
        (0, ("PSUBSCRIBE", "i1:x*"), {0: 1}),
        (2, ("PUBSUB", "NUMSUB", "i1:a", "i1:b", "i1:c"), {2: 1}),
        (2, ("PUBSUB", "NUMSUB"), {2: 1}),
        (2, ("PUBSUB", "NUMPAT"), {2: 1}),
        (2, ("PUBSUB", "CHANNELS", "i1:[b]"), {2: 1}),
        (2, ("PUBSUB", "CHANNELS", "i1:a", "x"), {2: 1}),
        (2, ("PUBSUB", "HELP"), {2: 1}),
        (2, ("PUBSUB", "NOSUCH"), {2: 1}),
        (2, ("PUBSUB",), {2: 1}),
        (2, ("SUBSCRIBE",), {2: 1}),
        (2, ("PUBLISH", "x"), {2: 1}),
        (2, ("CLIENT", "INFO"), {2: 1}),
    ]
    if proto == 3:  # a RESP3 subscriber may run anything
        steps.append((0, ("CLIENT", "INFO"), {0: 1}))
    same(servers, proto, 3, steps)


@PROTOS
def test_channels_listing(servers, proto):
    """PUBSUB CHANNELS lists in no defined order: compared as sets."""
    names = [b"l1:a", b"l1:b\x00", b"l1:c", b"l1:cc"]
    for pattern in (None, b"l1:c*", b"l1:?", b"l1:b*"):
        got = {}
        for name, addr in servers.items():
            a, b = Conn(addr, proto), Conn(addr, proto)
            try:
                a.send("SUBSCRIBE", *names)
                a.frames(len(names))
                b.send("PUBSUB", "CHANNELS", *([pattern] if pattern else []))
                r = hiredis.Reader()
                r.feed(b.frames(1)[0])
                got[name] = {x for x in r.gets() if x.startswith(b"l1:")}
            finally:
                a.close()
                b.close()
        assert got["respike"] == got["redis"], pattern


def test_subscribed_mode_errors_resp2(servers):
    same(
        servers,
        2,
        1,
        [
            (0, ("SUBSCRIBE", "e1:a"), {0: 1}),
            (0, ("GET", "e1:k"), {0: 1}),
            (0, ("SET", "e1:k", "v"), {0: 1}),
            (0, ("CLIENT", "LIST"), {0: 1}),
            (0, ("PUBLISH", "e1:a", "x"), {0: 1}),
            (0, ("PUBSUB", "NUMPAT"), {0: 1}),
            (0, ("HELLO", "3"), {0: 1}),
            (0, ("NOSUCHCMD",), {0: 1}),
            (0, ("GET",), {0: 1}),
            (0, ("PING",), {0: 1}),
            (0, ("PING", "hi"), {0: 1}),
            (0, ("PSUBSCRIBE", "e1:*"), {0: 1}),
            (0, ("SSUBSCRIBE", "e1:s"), {0: 1}),
            (0, ("UNSUBSCRIBE",), {0: 1}),
            (0, ("PUNSUBSCRIBE",), {0: 1}),
            (0, ("PING",), {0: 1}),  # still subscribed (a shard channel)
            (0, ("SUNSUBSCRIBE",), {0: 1}),
            (0, ("PING",), {0: 1}),
            (0, ("GET", "e1:k"), {0: 1}),
        ],
    )


@PROTOS
def test_reset_and_quit_drop_subscriptions(servers, proto):
    same(
        servers,
        proto,
        2,
        [
            (0, ("SUBSCRIBE", "r1:a"), {0: 1}),
            (0, ("PSUBSCRIBE", "r1:*"), {0: 1}),
            (0, ("SSUBSCRIBE", "r1:s"), {0: 1}),
            (0, ("RESET",), {0: 1}),
            (1, ("PUBLISH", "r1:a", "x"), {1: 1}),
            (1, ("SPUBLISH", "r1:s", "x"), {1: 1}),
            (1, ("PUBSUB", "NUMSUB", "r1:a"), {1: 1}),
            (0, ("GET", "r1:k"), {0: 1}),
            (0, ("SUBSCRIBE", "r1:b"), {0: 1}),
            (0, ("QUIT",), {0: 1}),
        ],
    )
    for name, addr in servers.items():  # the connection that quit left its channel
        c = Conn(addr, 2)
        try:
            wait_until(lambda c=c: _numsub(c, b"r1:b") == 0, 5, f"{name} forgets r1:b")
        finally:
            c.close()


def _numsub(c: Conn, channel: bytes) -> int:
    c.send("PUBSUB", "NUMSUB", channel)
    r = hiredis.Reader()
    r.feed(c.frames(1)[0])
    return r.gets()[1]


def test_disconnect_drops_subscriptions(servers):
    addr = servers["respike"]
    a, b = Conn(addr, 3), Conn(addr, 3)
    a.send("SUBSCRIBE", "d1:a", "d1:b")
    a.send("PSUBSCRIBE", "d1:*")
    a.send("SSUBSCRIBE", "d1:s")
    a.frames(4)
    assert _numsub(b, b"d1:a") == 1
    a.close()
    wait_until(lambda: _numsub(b, b"d1:a") == 0, 5, "the closed connection's channels gone")
    b.send("INFO", "stats")
    r = hiredis.Reader()
    r.feed(b.frames(1)[0])
    stats = info_dict(r.gets())
    assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == ("0", "0")
    assert stats["pubsubshard_channels"] == "0"
    b.close()


@PROTOS
def test_self_publish_order(servers, proto):
    """A RESP3 client's own message comes before its PUBLISH reply (Redis writes it into
    the output buffer first); a pipeline's messages arrive in publish order."""
    if proto == 3:
        same(
            servers,
            3,
            1,
            [
                (0, ("SUBSCRIBE", "o1:a"), {0: 1}),
                (0, ("PUBLISH", "o1:a", "mine"), {0: 2}),
                (0, ("SET", "o1:k", "v"), {0: 1}),
                (0, ("PSUBSCRIBE", "o1:*"), {0: 1}),
                (0, ("PUBLISH", "o1:a", "twice"), {0: 3}),
            ],
        )
    addr = servers["respike"]
    sub, pub = Conn(addr, proto), Conn(addr, proto)
    try:
        sub.send("SUBSCRIBE", "o1:seq")
        sub.frames(1)
        n = 2000
        pub.sock.sendall(b"".join(encode("PUBLISH", "o1:seq", str(i)) for i in range(n)))
        assert pub.frames(n) == [b":1\r\n"] * n
        got = sub.frames(n)
        head = b">3\r\n" if proto == 3 else b"*3\r\n"
        assert got == [
            head + b"$7\r\nmessage\r\n$6\r\no1:seq\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
            for i in range(n)
        ]
    finally:
        sub.close()
        pub.close()


@PROTOS
def test_binary_channel_names(servers, proto):
    weird = b"b1:\x00\xff\r\n*?["
    same(
        servers,
        proto,
        2,
        [
            (0, ("SUBSCRIBE", weird, b""), {0: 2}),
            (0, ("PSUBSCRIBE", b"b1:\x00*"), {0: 1}),
            (1, ("PUBLISH", weird, b"\r\n\x00payload"), {0: 2, 1: 1}),
            (1, ("PUBLISH", b"", b"empty channel"), {0: 1, 1: 1}),
            (1, ("PUBSUB", "NUMSUB", weird, b""), {1: 1}),
            (0, ("UNSUBSCRIBE", weird), {0: 1}),
        ],
    )


@PROTOS
def test_many_subscribers(servers, proto):
    for addr in servers.values():
        subs = [Conn(addr, proto) for _ in range(50)]
        pub = Conn(addr, proto)
        try:
            for i, s in enumerate(subs):
                s.send("SUBSCRIBE", "m1:all", f"m1:{i}")
                s.send("PSUBSCRIBE", "m1:*")
                assert len(s.frames(3)) == 3
            pub.send("PUBLISH", "m1:all", "hi")
            assert pub.frames(1) == [b":100\r\n"]
            pub.send("PUBLISH", "m1:7", "seven")
            assert pub.frames(1) == [b":51\r\n"]
            for i, s in enumerate(subs):
                got = s.frames(3 if i == 7 else 2)
                assert got[0].endswith(b"$7\r\nmessage\r\n$6\r\nm1:all\r\n$2\r\nhi\r\n")
                assert b"pmessage" in got[1]
        finally:
            for s in subs + [pub]:
                s.close()


@PROTOS
def test_client_list_fields(servers, proto):
    addr = servers["respike"]
    a, b = Conn(addr, proto), Conn(addr, 2)
    try:
        a.send("SUBSCRIBE", "c1:a", "c1:b")
        a.send("PSUBSCRIBE", "c1:*")
        a.send("SSUBSCRIBE", "c1:s")
        a.frames(4)
        b.send("CLIENT", "LIST", "TYPE", "pubsub")
        text = b.frames(1)[0]
        assert text.count(b"id=") == 1
        assert b" flags=P " in text and b" sub=2 psub=1 ssub=1 " in text
        b.send("CLIENT", "LIST", "TYPE", "normal")
        assert b"flags=P" not in b.frames(1)[0]
    finally:
        a.close()
        b.close()


def _messages(p, n: int) -> list:
    out = []
    deadline = time.monotonic() + 5
    while len(out) < n and time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None:
            out.append((m["type"], m["pattern"], m["channel"], m["data"]))
    return out


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_redis_py_pubsub(servers, protocol):
    results = {}
    for name, (host, port) in servers.items():
        r = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=5)
        p = r.pubsub()
        try:
            p.subscribe("py:a", "py:b")
            p.psubscribe("py:*")
            got = _messages(p, 3)
            got.append(r.publish("py:a", "one"))
            got.append(r.publish("py:c", "two"))
            got += _messages(p, 3)
            got.append(sorted(r.pubsub_channels("py:*")))
            got.append(r.pubsub_numsub("py:a", "py:c"))
            got.append(r.pubsub_numpat())
            p.unsubscribe("py:a")
            p.punsubscribe()
            got += _messages(p, 2)
            p.ping()
            got += _messages(p, 1)
            got.append(r.publish("py:b", "three"))
            got += _messages(p, 1)
            results[name] = got
        finally:
            p.close()
            r.close()
    assert results["respike"] == results["redis"]
