"""MULTI/EXEC/DISCARD/WATCH/UNWATCH; WATCH compares record generations."""

from __future__ import annotations

import pytest
import redis

from tests.helpers import RawClient

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


@pytest.fixture
def proto(r):
    return r.connection_pool.connection_kwargs["protocol"]


@pytest.fixture
def rc(r, node, proto):
    with RawClient.to(node, proto) as client:
        yield client


@pytest.fixture
def other(node, proto):
    """A second connection that writes while the first one watches."""
    with RawClient.to(node, proto) as client:
        yield client


def test_multi_exec_runs_queued_commands_in_order(rc):
    assert rc.call("MULTI") == b"OK"
    assert rc.call("SET", "a", "1") == b"QUEUED"
    assert rc.call("INCR", "a") == b"QUEUED"
    assert rc.call("HSET", "h", "f", "v") == b"QUEUED"
    assert rc.call("GET", "a") == b"QUEUED"
    assert rc.call("GET", "missing") == b"QUEUED"
    assert rc.call("EXEC") == [b"OK", 2, 1, b"2", None]


def test_exec_empty_and_errors(rc):
    assert rc.error("EXEC") == "ERR EXEC without MULTI"
    assert rc.error("DISCARD") == "ERR DISCARD without MULTI"
    assert rc.call("MULTI") == b"OK"
    assert rc.error("MULTI") == "ERR MULTI calls can not be nested"
    assert rc.call("EXEC") == []  # a nested MULTI does not abort the transaction
    assert rc.error("MULTI", "x") == "ERR wrong number of arguments for 'multi' command"
    assert "wrong number of arguments for 'exec' command" in rc.error("EXEC", "x")


def test_runtime_errors_do_not_roll_back(rc):
    rc.call("HSET", "h", "f", "v")
    rc.call("MULTI")
    rc.call("SET", "a", "1")
    rc.call("INCR", "h")  # WRONGTYPE when it runs
    rc.call("SET", "big", "x" * (2 << 20))  # over max-record-size when it runs
    rc.call("INCR", "a")
    replies = rc.call("EXEC")
    assert replies[0] == b"OK" and replies[3] == 2
    assert str(replies[1]).startswith("WRONGTYPE")
    assert str(replies[2]).startswith("RECORD_TOO_BIG") and str(replies[2]).endswith("(13)")
    assert rc.call("GET", "a") == b"2"
    assert rc.call("EXISTS", "big") == 0


@pytest.mark.parametrize("bad", [["NOPE"], ["GET"], ["SET", "a"], ["HSET", "h", "f"]])
def test_queueing_errors_abort_exec(rc, bad):
    rc.call("SET", "a", "orig")
    rc.call("MULTI")
    assert rc.call("SET", "a", "changed") == b"QUEUED"
    assert rc.error(*bad).startswith("ERR ")
    assert rc.call("SET", "b", "x") == b"QUEUED"
    assert rc.error("EXEC") == EXECABORT
    assert rc.call("GET", "a") == b"orig"
    assert rc.call("EXISTS", "b") == 0
    assert rc.error("EXEC") == "ERR EXEC without MULTI"  # the transaction is gone


def test_discard(rc):
    rc.call("MULTI")
    rc.call("SET", "a", "1")
    assert rc.call("DISCARD") == b"OK"
    assert rc.call("EXISTS", "a") == 0
    assert rc.error("DISCARD") == "ERR DISCARD without MULTI"


@pytest.mark.parametrize(
    "write",
    [
        ["SET", "k", "other"],
        ["SET", "k", "v"],
        ["INCR", "n"],
        ["DEL", "k"],
        ["EXPIRE", "k", "100"],
        ["APPEND", "k", "x"],
        ["RENAME", "k", "elsewhere"],
        ["SETRANGE", "k", "0", "v"],
        ["AS.TOUCH", "k"],
        ["FLUSHALL"],
        ["GETEX", "k", "EX", "100"],
    ],
)
def test_watch_fails_exec_when_another_client_wrote(rc, other, write):
    rc.call("SET", "k", "v")
    rc.call("SET", "n", "1")
    assert rc.call("WATCH", "k", "n") == b"OK"
    reply = other.call(*write)
    assert not isinstance(reply, Exception), reply
    rc.call("MULTI")
    assert rc.call("SET", "k", "mine") == b"QUEUED"
    assert rc.call("EXEC") is None  # null: nothing ran
    assert rc.call("GET", "k") != b"mine"


def test_watch_ignores_reads_and_other_keys(rc, other):
    rc.call("SET", "k", "v")
    rc.call("WATCH", "k")
    other.call("GET", "k")
    other.call("EXISTS", "k")
    other.call("TTL", "k")
    other.call("SET", "unrelated", "x")
    other.call("EXPIRE", "k", "100", "XX")  # a refused condition writes nothing
    rc.call("MULTI")
    rc.call("SET", "k", "mine")
    assert rc.call("EXEC") == [b"OK"]
    assert rc.call("GET", "k") == b"mine"


def test_watch_deleted_and_recreated_key_is_dirty(rc, other):
    rc.call("SET", "k", "v")
    rc.call("WATCH", "k")
    other.call("DEL", "k")
    other.call("SET", "k", "v")  # generation 1 again, but a new last-update-time
    rc.call("MULTI")
    rc.call("GET", "k")
    assert rc.call("EXEC") is None


def test_own_writes_between_watch_and_multi_make_it_dirty(rc):
    rc.call("SET", "k", "v")
    rc.call("WATCH", "k")
    rc.call("SET", "k", "w")
    rc.call("MULTI")
    rc.call("GET", "k")
    assert rc.call("EXEC") is None


def test_unwatch_and_exec_forget_watched_keys(rc, other):
    rc.call("SET", "k", "v")
    rc.call("WATCH", "k")
    assert rc.call("UNWATCH") == b"OK"
    other.call("SET", "k", "other")
    rc.call("MULTI")
    rc.call("SET", "k", "mine")
    assert rc.call("EXEC") == [b"OK"]
    # EXEC (successful or not) unwatches everything
    rc.call("WATCH", "k")
    other.call("SET", "k", "x")
    rc.call("MULTI")
    assert rc.call("EXEC") is None
    other.call("SET", "k", "y")
    rc.call("MULTI")
    rc.call("GET", "k")
    assert rc.call("EXEC") == [b"y"]
    # DISCARD unwatches too
    rc.call("WATCH", "k")
    rc.call("MULTI")
    rc.call("DISCARD")
    other.call("SET", "k", "z")
    rc.call("MULTI")
    rc.call("GET", "k")
    assert rc.call("EXEC") == [b"z"]


def test_watch_errors(rc):
    assert rc.error("WATCH") == "ERR wrong number of arguments for 'watch' command"
    assert rc.error("UNWATCH", "x") == "ERR wrong number of arguments for 'unwatch' command"
    rc.call("MULTI")
    assert rc.error("WATCH", "k") == "ERR WATCH inside MULTI is not allowed"
    rc.call("SET", "k", "v")
    assert rc.call("EXEC") == [b"OK"]  # the refused WATCH did not abort the transaction


def test_redis_py_optimistic_locking(r, node, proto):
    r.set("balance", 100)
    writer = redis.Redis(host=node.host, port=node.port, protocol=proto)
    with r.pipeline() as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        writer.incrby("balance", 5)  # sneaks in
        pipe.multi()
        pipe.set("balance", current - 10)
        with pytest.raises(redis.WatchError):
            pipe.execute()

    def withdraw(pipe):
        current = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", current - 10)

    r.transaction(withdraw, "balance")
    assert r.get("balance") == b"95"
    writer.close()


def test_transaction_spanning_namespaces(rc):
    rc.call("MULTI")
    rc.call("SET", "test:a", "1")
    rc.call("SET", "other:b", "2")
    rc.call("MGET", "test:a", "other:b")
    assert rc.call("EXEC") == [b"OK", b"OK", [b"1", b"2"]]


def test_other_clients_see_all_or_nothing(rc, other):
    """EXEC runs in one event-loop step: another client never sees half of it."""
    rc.call("MSET", "x", "0", "y", "0")
    for i in range(1, 30):
        rc.send(
            b"".join(
                [
                    b"*1\r\n$5\r\nMULTI\r\n",
                    b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$%d\r\n%d\r\n" % (len(str(i)), i),
                    b"*3\r\n$3\r\nSET\r\n$1\r\ny\r\n$%d\r\n%d\r\n" % (len(str(i)), i),
                    b"*1\r\n$4\r\nEXEC\r\n",
                ]
            )
        )
        x, y = other.call("MGET", "x", "y")
        assert x == y
        for _ in range(4):
            rc.read()
