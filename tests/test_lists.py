"""List commands through redis-py (RESP2 and RESP3), blocking pops included."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.helpers import WRONGTYPE


def err(exc_info) -> str:
    return str(exc_info.value)


@pytest.fixture
def limit(r):
    """Shrink max-record-size for a test, then restore it."""
    old = r.config_get("test.max-record-size")["test.max-record-size"]

    def set_limit(n: int) -> None:
        r.config_set("test.max-record-size", n)

    yield set_limit
    r.config_set("test.max-record-size", old)


def test_push_pop_range(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "x", "y") == 5
    assert r.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b", b"c"]
    assert r.lrange("l", -2, 100) == [b"b", b"c"]
    assert r.lrange("l", 3, 1) == []
    assert r.lrange("nolist", 0, -1) == []
    assert r.llen("l") == 5 and r.llen("nolist") == 0
    assert r.lpop("l") == b"y"
    assert r.rpop("l") == b"c"
    assert r.lpop("l", 2) == [b"x", b"a"]
    assert r.rpop("l", 5) == [b"b"]
    assert r.exists("l") == 0  # the last pop deleted the key
    assert r.lpop("l") is None and r.lpop("l", 2) is None
    r.rpush("l", "a")
    assert r.lpop("l", 0) == []


def test_pushx_and_type(r):
    assert r.lpushx("l", "a") == 0 and r.rpushx("l", "a") == 0
    r.rpush("l", "a")
    assert r.lpushx("l", "b") == 2 and r.rpushx("l", "c", "d") == 4
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"c", b"d"]
    assert r.type("l") == b"list"


def test_index_set_insert(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == b"a" and r.lindex("l", -1) == b"c" and r.lindex("l", 3) is None
    assert r.lindex("nolist", 0) is None
    assert r.lset("l", 1, "B") is True
    assert r.linsert("l", "BEFORE", "B", "x") == 4
    assert r.linsert("l", "AFTER", "c", "z") == 5
    assert r.linsert("l", "AFTER", "nope", "z") == -1
    assert r.linsert("nolist", "AFTER", "a", "z") == 0
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"B", b"c", b"z"]
    with pytest.raises(redis.ResponseError) as e:
        r.lset("l", 10, "q")
    assert err(e) == "index out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.lset("nolist", 0, "q")
    assert err(e) == "no such key"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LINSERT", "l", "MIDDLE", "a", "b")
    assert err(e) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LINDEX", "l", "x")
    assert err(e) == "value is not an integer or out of range"


def test_lrem_ltrim(r):
    r.rpush("l", "a", "b", "a", "c", "a")
    assert r.lrem("l", 1, "a") == 1
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"c", b"a"]
    assert r.lrem("l", -1, "a") == 1
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"c"]
    assert r.lrem("l", 0, "zz") == 0
    assert r.lrem("nolist", 0, "a") == 0
    assert r.ltrim("l", 1, -1) is True
    assert r.lrange("l", 0, -1) == [b"a", b"c"]
    assert r.ltrim("l", 5, 10) is True
    assert r.exists("l") == 0
    r.rpush("l", "a", "a")
    assert r.lrem("l", 0, "a") == 2 and r.exists("l") == 0


def test_lpos(r):
    r.rpush("l", "a", "b", "c", "a", "b", "a")
    assert r.lpos("l", "a") == 0
    assert r.lpos("l", "a", rank=2) == 3
    assert r.lpos("l", "a", rank=-1) == 5
    assert r.lpos("l", "a", count=0) == [0, 3, 5]
    assert r.lpos("l", "a", count=2, rank=-1) == [5, 3]
    assert r.lpos("l", "a", count=0, maxlen=4) == [0, 3]
    assert r.lpos("l", "zz") is None and r.lpos("l", "zz", count=1) == []
    assert r.lpos("nolist", "a") is None
    with pytest.raises(redis.ResponseError) as e:
        r.lpos("l", "a", rank=0)
    assert err(e).startswith("RANK can't be zero")
    with pytest.raises(redis.ResponseError) as e:
        r.lpos("l", "a", count=-1)
    assert err(e) == "COUNT can't be negative"
    with pytest.raises(redis.ResponseError) as e:
        r.lpos("l", "a", maxlen=-1)
    assert err(e) == "MAXLEN can't be negative"


def test_lmove_rpoplpush(r):
    r.rpush("src", "a", "b", "c")
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert r.lmove("src", "dst", "RIGHT", "LEFT") == b"c"
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]
    assert r.rpoplpush("src", "dst") == b"b"
    assert r.exists("src") == 0
    assert r.rpoplpush("src", "dst") is None
    assert r.lmove("dst", "dst", "LEFT", "RIGHT") == b"b"  # rotation
    assert r.lrange("dst", 0, -1) == [b"c", b"a", b"b"]
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LMOVE", "dst", "x", "UP", "LEFT")
    assert err(e) == "syntax error"


def test_errors(r):
    r.set("str", "x")
    for call in (
        lambda: r.lpush("str", "a"),
        lambda: r.lrange("str", 0, -1),
        lambda: r.llen("str"),
        lambda: r.lpop("str"),
        lambda: r.rpoplpush("str", "l"),
        lambda: r.lpos("str", "a"),
    ):
        with pytest.raises(redis.ResponseError) as e:
            call()
        assert err(e) == WRONGTYPE
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError) as e:
        r.rpoplpush("l", "str")
    assert err(e) == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a"]  # unchanged
    with pytest.raises(redis.ResponseError) as e:
        r.lpop("l", -1)
    assert err(e) == "value is out of range, must be positive"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LPOP", "l", "1", "2")
    assert err(e) == "wrong number of arguments for 'lpop' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LRANGE", "l", "a", "1")
    assert err(e) == "value is not an integer or out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.lpush("l")
    assert "wrong number of arguments" in err(e)


def test_record_size_limit(r, limit):
    limit(300)
    r.rpush("big", "x" * 100)
    with pytest.raises(redis.ResponseError) as e:
        r.rpush("big", "y" * 100, "z" * 100)
    assert "RECORD_TOO_BIG" in err(e) and "(13)" in err(e)
    assert r.lrange("big", 0, -1) == [b"x" * 100]  # unchanged
    r.rpush("other", "y" * 150)
    with pytest.raises(redis.ResponseError):
        r.lmove("other", "big", "LEFT", "LEFT")
    assert r.llen("other") == 1 and r.llen("big") == 1
    with pytest.raises(redis.ResponseError):
        r.lset("big", 0, "w" * 400)
    assert r.lindex("big", 0) == b"x" * 100


def test_ttl_and_generation(r):
    r.rpush("l", "a")
    r.expire("l", 100)
    r.rpush("l", "b")
    assert 0 < r.ttl("l") <= 100  # pushes keep the TTL
    meta = r.execute_command("AS.GETMETA", "l")
    gen = (
        meta[b"generation"]
        if isinstance(meta, dict)
        else dict(zip(meta[0::2], meta[1::2], strict=True))[b"generation"]
    )
    assert gen == 3


def test_large_list_is_not_quadratic(r):
    n = 20000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 500):
        pipe.rpush("big", *[str(j) for j in range(i, i + 500)])
    pipe.execute()
    start = time.monotonic()
    pipe = r.pipeline(transaction=False)
    for _ in range(2000):
        pipe.lpush("big", "h")
        pipe.rpop("big")
    pipe.execute()
    assert r.llen("big") == n
    assert r.lrange("big", -3, -1) == [b"17997", b"17998", b"17999"]
    assert time.monotonic() - start < 10


# --- blocking ---------------------------------------------------------------------------


def _client(r, **kw):
    kwargs = r.connection_pool.connection_kwargs
    return redis.Redis(
        host=kwargs["host"], port=kwargs["port"], protocol=kwargs.get("protocol", 2), **kw
    )


def _later(delay: float, fn):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def test_blpop_immediate_and_timeout(r):
    r.rpush("l2", "x")
    assert tuple(r.blpop(["l1", "l2"], timeout=1)) == (b"l2", b"x")
    start = time.monotonic()
    assert r.blpop(["l1"], timeout=0.2) is None
    assert 0.15 < time.monotonic() - start < 2
    assert r.brpop(["l1"], timeout=0.1) is None
    assert r.blmove("l1", "l2", 0.1, "LEFT", "RIGHT") is None


def test_blpop_wakes_on_push(r):
    other = _client(r)
    t = _later(0.2, lambda: other.rpush("q", "job"))
    start = time.monotonic()
    assert r.blpop(["q"], timeout=5) in ((b"q", b"job"), [b"q", b"job"])
    assert time.monotonic() - start < 3
    t.join()
    assert r.exists("q") == 0
    other.close()


def test_blocking_forever_is_woken(r):
    other = _client(r)
    t = _later(0.2, lambda: other.lpush("q", "a", "b"))
    assert r.brpop(["q"], timeout=0) in ((b"q", b"a"), [b"q", b"a"])
    t.join()
    assert r.lrange("q", 0, -1) == [b"b"]
    other.close()


def test_blmove_wakes_and_moves(r):
    other = _client(r)
    t = _later(0.2, lambda: other.rpush("src", "v"))
    assert r.blmove("src", "dst", 5, "LEFT", "RIGHT") == b"v"
    t.join()
    assert r.lrange("dst", 0, -1) == [b"v"] and r.exists("src") == 0
    other.close()


def test_fifo_and_served_once(r):
    """Three clients block on one key; two pushes serve the two longest-waiting, once each."""
    results: dict[int, object] = {}
    clients = [_client(r) for _ in range(3)]

    def wait(i):
        results[i] = clients[i].blpop(["fifo"], timeout=3)

    threads = []
    for i in range(3):
        threads.append(threading.Thread(target=wait, args=(i,)))
        threads[-1].start()
        time.sleep(0.15)
    r.rpush("fifo", "first", "second")
    threads[0].join()
    threads[1].join()
    assert tuple(results[0]) == (b"fifo", b"first")
    assert tuple(results[1]) == (b"fifo", b"second")
    threads[2].join()
    assert results[2] is None
    assert r.exists("fifo") == 0
    for c in clients:
        c.close()


def test_push_in_multi_wakes_after_exec(r):
    other = _client(r)

    def push():
        pipe = other.pipeline(transaction=True)
        pipe.rpush("tq", "a", "b")
        pipe.llen("tq")
        assert pipe.execute() == [2, 2]  # the blocked client is served after EXEC

    t = _later(0.2, push)
    assert tuple(r.blpop(["tq"], timeout=5)) == (b"tq", b"a")
    t.join()
    assert r.lrange("tq", 0, -1) == [b"b"]
    other.close()


def test_lmove_and_native_append_wake(r):
    other = _client(r)
    other.rpush("from", "m")
    t = _later(0.2, lambda: other.lmove("from", "wq", "LEFT", "LEFT"))
    assert tuple(r.blpop(["wq"], timeout=5)) == (b"wq", b"m")
    t.join()
    t = _later(0.2, lambda: other.execute_command("AS.LIST", "nq", "list", "APPEND", "n"))
    assert tuple(r.blpop(["nq"], timeout=5)) == (b"nq", b"n")
    t.join()
    other.close()


def test_blocking_in_multi_does_not_block(r):
    pipe = r.pipeline(transaction=True)
    pipe.blpop(["empty"], timeout=0)
    pipe.blmove("empty", "x", 0, "LEFT", "LEFT")
    assert pipe.execute() == [None, None]


def test_disconnected_waiter_is_dropped(r):
    gone = _client(r, socket_timeout=0.3)
    with pytest.raises(redis.TimeoutError):
        gone.blpop(["dq"], timeout=0)
    gone.close()
    time.sleep(0.1)
    r.rpush("dq", "kept")
    assert r.lrange("dq", 0, -1) == [b"kept"]  # nobody took it


def test_timeout_errors(r):
    for value, text in (
        ("x", "timeout is not a float or out of range"),
        ("-1", "timeout is negative"),
        ("nan", "timeout is not a float or out of range"),
    ):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("BLPOP", "k", value)
        assert err(e) == text
    r.set("str", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.blpop(["str"], timeout=0.1)
    assert err(e) == WRONGTYPE


def test_command_getkeys(r):
    assert [
        k.encode() if isinstance(k, str) else k for k in r.command_getkeys("BLPOP", "a", "b", "1")
    ] == [b"a", b"b"]
    assert [
        k.encode() if isinstance(k, str) else k
        for k in r.command_getkeys("LMOVE", "a", "b", "LEFT", "LEFT")
    ] == [b"a", b"b"]
