"""Streams through real clients: what the differential test (test_diff_streams.py) cannot
compare — generated ids, blocking XREAD, a stream on the device across a restart, the
native view, and rq's use (XADD with MAXLEN ~, XREVRANGE COUNT 1)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.helpers import RawClient

DEVICE = '[namespaces.test]\nstorage-engine = "device"\nfile-size = "16M"\n'


def test_generated_ids_grow_and_follow_the_clock(r):
    before = int(time.time() * 1000)
    ids = [r.xadd("test:ev", {"n": i}) for i in range(50)]
    parsed = [tuple(map(int, i.split(b"-"))) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == 50
    assert before - 1000 <= parsed[0][0] <= int(time.time() * 1000) + 1000
    r.xadd("test:ev", {"n": "late"}, id="99999999999999-*")
    assert r.xadd("test:ev", {"n": "x"}) == b"99999999999999-1"  # the clock is behind: seq +1
    assert r.type("test:ev") == b"stream"


def test_rq_style_results_with_approximate_maxlen(r):
    for i in range(30):
        r.xadd("test:results", {"i": i}, maxlen=10)  # redis-py sends MAXLEN ~ 10
    assert r.xlen("test:results") == 10  # ~ trims exactly here; Redis may keep more
    (last,) = r.xrevrange("test:results", "+", "-", count=1)
    assert last[1] == {b"i": b"29"}
    r.expire("test:results", 100)
    assert 0 < r.ttl("test:results") <= 100


def test_xread_blocks_until_an_entry_arrives(node, r):
    r.xadd("test:q", {"old": 1}, id="1-1")
    got = {}

    def reader():
        c = redis.Redis(
            host=node.host, port=node.port, protocol=r.get_connection_kwargs()["protocol"]
        )
        got["reply"] = c.xread({"test:q": "$", "test:other": "0"}, block=5000)
        c.close()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)  # let the reader block first (if it has not, it still gets the entry)
    r.xadd("test:q", {"new": 2}, id="2-0")
    t.join(10)
    reply = got["reply"]
    # (redis-py: RESP2 [[key, entries]], RESP3 {key: [entries]})
    entries = reply[b"test:q"][0] if isinstance(reply, dict) else dict(reply)[b"test:q"]
    assert entries == [(b"2-0", {b"new": b"2"})]
    assert r.xread({"test:q": "$"}, block=100) in (None, [], {})  # times out: null


def test_xread_block_inside_multi_does_not_block(r):
    p = r.pipeline(transaction=True)
    p.xread({"test:none": "$"}, block=0)
    assert p.execute() in ([None], [[]], [{}])


def test_stream_survives_a_restart_on_the_device(start_node):
    proc = start_node(DEVICE)
    c = redis.Redis(host=proc.host, port=proc.port)
    for i in range(5):
        c.xadd("test:d", {"i": i}, id=f"{i + 1}-0")
    c.xdel("test:d", "5-0")
    proc.stop()  # (commit-to-device is off: a clean stop flushes the write buffer)
    proc.start()
    c = redis.Redis(host=proc.host, port=proc.port)
    assert [e[0] for e in c.xrange("test:d")] == [b"1-0", b"2-0", b"3-0", b"4-0"]
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        c.xadd("test:d", {"i": 9}, id="5-0")  # the last id is kept across the restart


def test_native_view_of_a_stream(rc):
    rc.call("XADD", "test:nv", "1-1", "f", "v", "n", "7")
    got = rc.call("AS.GET", "test:nv")
    bins = got[b"bins"] if isinstance(got, dict) else got[-1]
    stream = bins[b"stream"] if isinstance(bins, dict) else bins[1]
    assert stream in ({b"1-1": [b"f", b"v", b"n", 7]}, [b"1-1", [b"f", b"v", b"n", 7]])


def test_wrong_type_and_errors(r):
    r.set("test:s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.xadd("test:s", {"a": 1})
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xrange("test:none", "x")
    with _raw(r) as raw:
        assert "wrong number of arguments for 'xadd'" in raw.error("XADD", "test:x", "*", "f")
        assert "Unbalanced 'xread'" in raw.error("XREAD", "STREAMS", "a", "b", "c")


def _raw(r):
    kw = r.get_connection_kwargs()
    return RawClient(kw["host"], kw["port"])
