"""Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT."""

from __future__ import annotations

import socket

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.helpers import RawClient, arity, as_map, wait_until

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def test_ping_echo(r, rc):
    assert r.ping() is True
    assert rc.call("PING") == b"PONG"
    assert rc.call("PING", "hello") == b"hello"
    assert rc.call("PING", b"\x00\xff") == b"\x00\xff"
    assert r.echo("hi there") == b"hi there"
    assert rc.call("ECHO", "") == b""
    assert rc.error("PING", "a", "b") == arity("ping")
    assert rc.error("ECHO") == arity("echo")
    assert rc.error("ECHO", "a", "b") == arity("echo")
    assert rc.call("ping") == b"PONG"  # case-insensitive names
    assert rc.call("pInG") == b"PONG"


def test_hello_replies(node):
    with RawClient.to(node) as c:
        reply = as_map(c.call("HELLO"))
        assert reply[b"proto"] == 2 and reply[b"server"] == b"redis"
        assert reply[b"version"] == b"7.2.0"
        assert reply[b"mode"] == b"standalone" and reply[b"role"] == b"master"
        assert reply[b"modules"] == []
        assert reply[b"id"] == c.call("CLIENT", "ID")
        reply = c.call("HELLO", "3", "SETNAME", "conn-1")
        assert isinstance(reply, dict) and reply[b"proto"] == 3  # a real RESP3 map
        assert c.call("CLIENT", "GETNAME") == b"conn-1"
        assert c.call("HGETALL", "nokey") == {}  # RESP3 map from now on
        assert isinstance(c.call("HELLO", "2"), list)  # and back to flat arrays
        assert c.call("HGETALL", "nokey") == []


def test_hello_errors(node):
    with RawClient.to(node) as c:
        assert c.error("HELLO", "4") == "NOPROTO unsupported protocol version"
        assert c.error("HELLO", "1") == "NOPROTO unsupported protocol version"
        assert c.error("HELLO", "x") == "ERR Protocol version is not an integer or out of range"
        assert c.error("HELLO", "3", "FOO") == "ERR Syntax error in HELLO option 'FOO'"
        assert c.error("HELLO", "3", "SETNAME") == "ERR Syntax error in HELLO option 'SETNAME'"
        assert c.error("HELLO", "3", "AUTH", "default") == "ERR Syntax error in HELLO option 'AUTH'"
        assert c.error("HELLO", "3", "SETNAME", "a b") == (
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
        assert as_map(c.call("HELLO"))[b"proto"] == 2  # nothing changed


def test_auth_without_password(rc):
    assert rc.error("AUTH", "secret") == (
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"
    )
    assert rc.call("AUTH", "default", "anything") == b"OK"  # nopass user, as in Redis
    assert rc.error("AUTH", "bob", "pw") == WRONGPASS
    assert rc.error("AUTH") == arity("auth")
    assert rc.error("AUTH", "a", "b", "c") == "ERR syntax error"


def test_auth_with_requirepass(start_node):
    node = start_node('[node]\nrequirepass = "s3cret"\n')
    with RawClient.to(node) as c:
        assert c.error("GET", "k") == NOAUTH
        assert c.error("PING") == NOAUTH
        assert c.error("AUTH", "wrong") == WRONGPASS
        assert c.error("AUTH", "default", "wrong") == WRONGPASS
        assert c.error("HELLO", "3").startswith(
            "NOAUTH HELLO must be called with the client already authenticated"
        )
        assert c.call("AUTH", "s3cret") == b"OK"
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("RESET") == b"RESET"  # RESET logs the connection out again
        assert c.error("GET", "k") == NOAUTH
    with RawClient.to(node) as c:
        assert c.error("HELLO", "3", "AUTH", "default", "nope") == WRONGPASS
        reply = c.call("HELLO", "3", "AUTH", "default", "s3cret")
        assert reply[b"proto"] == 3
        assert c.call("GET", "k") == b"v"
    no_retry = Retry(NoBackoff(), 0)  # redis-py retries auth failures with backoff otherwise
    for proto in (2, 3):
        for password, ok in (("s3cret", True), ("bad", False), (None, False)):
            client = redis.Redis(
                host=node.host, port=node.port, password=password, protocol=proto, retry=no_retry
            )
            if ok:
                assert client.get("k") == b"v"
            else:
                with pytest.raises(redis.AuthenticationError):
                    client.get("k")
            client.close()


def test_select(r, rc, node):
    assert rc.call("SELECT", "0") == b"OK"
    assert rc.error("SELECT", "1") == "ERR DB index is out of range"
    assert rc.error("SELECT", "-1") == "ERR DB index is out of range"
    assert rc.error("SELECT", "x") == "ERR value is not an integer or out of range"
    assert rc.error("SELECT") == arity("select")
    client = redis.Redis(host=node.host, port=node.port, db=0, protocol=2)
    assert client.ping() is True
    client.close()


def test_quit_closes_after_reply(node):
    with RawClient.to(node) as c:
        c.send(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        data = c.read_raw()
        assert data == b"+OK\r\n"  # nothing after QUIT is answered
    with RawClient.to(node) as c:
        assert c.call("QUIT") == b"OK"
        assert c.is_closed()


def test_reset(node):
    with RawClient.to(node, 3) as c:
        c.call("CLIENT", "SETNAME", "before")
        c.call("SET", "k", "v")
        c.call("WATCH", "k")
        c.call("MULTI")
        assert c.call("SET", "k", "queued") == b"QUEUED"
        assert c.call("RESET") == b"RESET"
        assert c.call("CLIENT", "GETNAME") is None
        assert c.call("GET", "k") == b"v"  # the transaction was dropped
        assert c.error("EXEC") == "ERR EXEC without MULTI"
        assert c.call("HGETALL", "nokey") == []  # back to RESP2
        assert c.call("DEL", "k") == 1


def test_client_id_setname_getname(rc):
    cid = rc.call("CLIENT", "ID")
    assert isinstance(cid, int) and cid > 0
    assert rc.call("CLIENT", "GETNAME") is None
    assert rc.call("CLIENT", "SETNAME", "worker-1") == b"OK"
    assert rc.call("CLIENT", "GETNAME") == b"worker-1"
    for bad in ("a b", "a\nb", "\x01"):
        assert rc.error("CLIENT", "SETNAME", bad) == (
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
    assert rc.call("CLIENT", "GETNAME") == b"worker-1"
    assert rc.call("CLIENT", "SETNAME", "") == b"OK"  # clears the name
    assert rc.call("CLIENT", "GETNAME") is None
    assert rc.error("CLIENT", "ID", "x") == arity("client|id")
    assert rc.error("CLIENT", "SETNAME") == arity("client|setname")
    assert rc.error("CLIENT") == arity("client")
    assert rc.error("CLIENT", "NOPE") == "ERR unknown subcommand 'NOPE'. Try CLIENT HELP."
    assert isinstance(rc.call("CLIENT", "HELP"), list)


def test_client_setinfo_and_info(r, rc):
    assert rc.call("CLIENT", "SETINFO", "lib-name", "mylib") == b"OK"
    assert rc.call("CLIENT", "SETINFO", "LIB-VER", "1.2.3") == b"OK"
    info = rc.call("CLIENT", "INFO")
    assert b" lib-name=mylib " in info and b" lib-ver=1.2.3" in info
    assert info.endswith(b"\n")
    assert rc.error("CLIENT", "SETINFO", "lib-name", "a b") == (
        "ERR lib-name cannot contain spaces, newlines or special characters."
    )
    assert rc.error("CLIENT", "SETINFO", "foo", "x") == "ERR Unrecognized option 'foo'"
    assert rc.error("CLIENT", "SETINFO", "lib-name") == arity("client|setinfo")
    # redis-py sends SETINFO on connect
    info = r.client_info()
    assert info["lib-name"] == "redis-py"
    assert int(info["resp"]) == r.connection_pool.connection_kwargs["protocol"]
    assert int(info["id"]) == r.client_id()


def test_client_list(r, rc):
    rc.call("CLIENT", "SETNAME", "listed")
    me = rc.call("CLIENT", "ID")
    text = rc.call("CLIENT", "LIST").decode()
    lines = [line for line in text.split("\n") if line]
    assert len(lines) >= 2  # this one and redis-py's
    mine = [line for line in lines if f"id={me} " in line]
    assert len(mine) == 1 and " name=listed " in mine[0]
    only = rc.call("CLIENT", "LIST", "ID", str(me)).decode()
    assert only.count("\n") == 1 and f"id={me} " in only
    assert rc.call("CLIENT", "LIST", "ID", "999999") == b""
    assert rc.call("CLIENT", "LIST", "TYPE", "normal").decode().count("\n") == len(lines)
    assert rc.call("CLIENT", "LIST", "TYPE", "pubsub") == b""
    assert rc.error("CLIENT", "LIST", "TYPE", "nope") == "ERR Unknown client type 'nope'"
    assert rc.error("CLIENT", "LIST", "ID", "x") == "ERR Invalid client ID"
    assert rc.error("CLIENT", "LIST", "FOO") == "ERR syntax error"
    parsed = r.client_list()
    assert any(c["name"] == "listed" for c in parsed)


def test_client_kill(node, rc):
    with RawClient.to(node) as victim, RawClient.to(node) as victim2:
        vid = victim.call("CLIENT", "ID")
        assert rc.call("CLIENT", "KILL", "ID", str(vid)) == 1
        assert victim.is_closed()
        assert rc.call("CLIENT", "KILL", "ID", str(vid)) == 0
        addr = [f for f in victim2.call("CLIENT", "INFO").decode().split() if f.startswith("addr=")]
        assert rc.call("CLIENT", "KILL", addr[0][5:]) == b"OK"  # old form: ip:port
        assert victim2.is_closed()
    assert rc.error("CLIENT", "KILL", "1.2.3.4:5") == "ERR No such client"
    assert rc.error("CLIENT", "KILL", "ID", "x") == "ERR client-id should be greater than 0"
    assert rc.error("CLIENT", "KILL", "ID", "0") == "ERR client-id should be greater than 0"
    assert rc.error("CLIENT", "KILL", "ID") == "ERR No such client"  # the old form: an address
    assert rc.error("CLIENT", "KILL", "ID", "1", "SKIPME") == "ERR syntax error"
    assert rc.error("CLIENT", "KILL", "TYPE", "nope") == "ERR Unknown client type 'nope'"
    assert rc.error("CLIENT", "KILL", "USER", "bob") == "ERR No such user 'bob'"
    assert rc.call("CLIENT", "KILL", "TYPE", "pubsub") == 0  # no pubsub clients: nobody
    assert rc.error("CLIENT", "KILL", "FOO", "bar") == "ERR syntax error"
    assert rc.error("CLIENT", "KILL") == arity("client|kill")
    # SKIPME yes (the default) spares the caller; SKIPME no does not
    me = rc.call("CLIENT", "ID")
    assert rc.call("CLIENT", "KILL", "ID", str(me)) == 0
    assert rc.call("PING") == b"PONG"
    assert rc.call("CLIENT", "KILL", "ID", str(me), "SKIPME", "no") == 1
    assert rc.is_closed()


def test_killed_client_does_not_disturb_others(node, r):
    r.set("k", "v")
    with RawClient.to(node) as victim:
        victim.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhalf-")  # an unfinished command
        vid = r.client_id()
        assert vid != victim.call  # keep linters quiet about the unused binding
        ids = [int(c["id"]) for c in r.client_list() if int(c["id"]) != vid]
        for cid in ids:
            r.client_kill_filter(_id=cid)
        wait_until(victim.is_closed, 5, "the victim to be closed")
    assert r.get("k") == b"v"
    assert r.ping() is True


@pytest.mark.parametrize(
    "payload,expected",
    [
        (b"PING\r\n", b"+PONG\r\n"),
        (
            b"*3\r\n$3\r\nSET\r\n$2\r\nhc\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$2\r\nhc\r\n",
            b"+OK\r\n$1\r\nv\r\n",
        ),
    ],
)
def test_client_that_half_closes_still_gets_its_replies(node, payload, expected):
    """`printf ... | nc` sends its commands and then its FIN: replies are written once per
    loop iteration, after the read that also sees the end of the stream."""
    with socket.create_connection((node.host, node.port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data == expected
