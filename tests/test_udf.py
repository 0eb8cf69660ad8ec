"""Record UDF modules (AS.UDF): registered once, kept across restarts and held by every
node of a cluster, including one that joins later (the system-metadata catalog)."""

from __future__ import annotations

import hashlib

import pytest
import redis

from respike.process import NodeProcess, wait_until
from tests.cluster import Cluster

SOURCE = b"""
function add(rec, bin, n)
  rec[bin] = (rec[bin] or 0) + n
  if aerospike:exists(rec) then aerospike:update(rec) else aerospike:create(rec) end
  return rec[bin]
end
"""


def _modules(r: redis.Redis) -> dict[bytes, bytes]:
    out = {}
    for entry in r.execute_command("AS.UDF", "LIST"):
        m = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=True))
        out[m[b"filename"]] = m[b"hash"]
    return out


def test_register_list_get_remove(r):
    for name in [n for n in _modules(r)]:
        r.execute_command("AS.UDF", "REMOVE", name)
    assert r.execute_command("AS.UDF", "REGISTER", "counters.lua", SOURCE) in (b"OK", "OK", True)
    assert _modules(r) == {b"counters.lua": hashlib.sha1(SOURCE).hexdigest().encode()}
    assert r.execute_command("AS.UDF", "GET", "counters.lua") == SOURCE
    r.execute_command("AS.UDF", "REGISTER", "counters.lua", SOURCE + b"-- v2\n")
    assert r.execute_command("AS.UDF", "GET", "counters.lua") == SOURCE + b"-- v2\n"
    r.execute_command("AS.UDF", "REMOVE", "counters.lua")
    assert _modules(r) == {}
    with pytest.raises(redis.ResponseError, match=r"UDF_BAD_RESPONSE .*not found \(100\)"):
        r.execute_command("AS.UDF", "REMOVE", "counters.lua")
    with pytest.raises(redis.ResponseError, match=r"UDF_BAD_RESPONSE .*not found \(100\)"):
        r.execute_command("AS.UDF", "GET", "counters.lua")


def test_bad_modules_are_refused(r):
    with pytest.raises(redis.ResponseError, match="does not compile"):
        r.execute_command("AS.UDF", "REGISTER", "bad.lua", b"function (")
    with pytest.raises(redis.ResponseError, match="precompiled"):
        r.execute_command("AS.UDF", "REGISTER", "bin.lua", b"\x1bLuaQ\x00")
    with pytest.raises(redis.ResponseError, match="invalid UDF file name"):
        r.execute_command("AS.UDF", "REGISTER", "noext", SOURCE)
    with pytest.raises(redis.ResponseError, match="invalid UDF file name"):
        r.execute_command("AS.UDF", "REGISTER", "../x.lua", SOURCE)
    assert b"bad.lua" not in _modules(r)


def test_modules_survive_a_restart(tmp_path):
    proc = NodeProcess(data_dir=str(tmp_path)).start()
    try:
        r = redis.Redis(host=proc.host, port=proc.port, socket_timeout=10)
        r.execute_command("AS.UDF", "REGISTER", "a.lua", SOURCE)
        r.execute_command("AS.UDF", "REGISTER", "b.lua", SOURCE)
        r.execute_command("AS.UDF", "REMOVE", "b.lua")
        proc.kill()  # kill -9: an acknowledged registration is on disk already
        proc.start()
        r = redis.Redis(host=proc.host, port=proc.port, socket_timeout=10)
        assert list(_modules(r)) == [b"a.lua"]
    finally:
        proc.cleanup()


def test_modules_reach_every_node_and_a_node_that_joins_later():
    c = Cluster(2, "[namespaces.test]\nreplication-factor = 2\n").start()
    late = None
    try:
        a, b = c.nodes
        ra, rb = c.client(a), c.client(b)
        ra.execute_command("AS.UDF", "REGISTER", "one.lua", SOURCE)
        rb.execute_command("AS.UDF", "REGISTER", "two.lua", SOURCE)
        both = {b"one.lua", b"two.lua"}
        wait_until(lambda: set(_modules(ra)) == set(_modules(rb)) == both, 20, "modules on both")
        rb.execute_command("AS.UDF", "REMOVE", "one.lua")
        wait_until(lambda: set(_modules(ra)) == {b"two.lua"}, 20, "the removal on node a")
        late = NodeProcess(host=a.host.rsplit(".", 1)[0] + ".9", args=["--seed", a.address])
        c.nodes.append(late.start())
        c.wait_formed(c.nodes)
        rl = c.client(late)
        wait_until(lambda: set(_modules(rl)) == {b"two.lua"}, 20, "modules on the late node")
        assert rl.execute_command("AS.UDF", "GET", "two.lua") == SOURCE
        # applied through any node (proxied to each key's master), replicated as any write
        c.wait_migrated(c.nodes)
        clients = [ra, rb, rl]
        for i in range(30):
            for n in (1, 2):
                clients[(i + n) % 3].execute_command(
                    "AS.APPLY", f"test:u:{i}", "two", "add", "n", n
                )
        a.kill()
        c.wait_formed([b, late])
        assert [int(rb.hget(f"test:u:{i}", "n")) for i in range(30)] == [3] * 30
    finally:
        c.stop()


COUNTERS = b"""
function add(rec, bin, n)
  rec[bin] = (rec[bin] or 0) + n
  if aerospike:exists(rec) then aerospike:update(rec) else aerospike:create(rec) end
  return rec[bin]
end
function create_only(rec) return aerospike:create(rec) end
function update_only(rec, v) rec.v = v return aerospike:update(rec) end
function meta(rec)
  return list{record.gen(rec), record.ttl(rec), record.setname(rec), record.key(rec),
              #record.digest(rec), record.numbins(rec)}
end
function shapes(rec)
  rec.m = map{a=1, b="x"}
  rec.l = list{1, 2, list{3}}
  aerospike:create(rec)
  return {1, "two", {x=1}, list{}, map{}}
end
function read_back(rec) local l = rec.l return list{list.size(l), l[3][1], rec.m.b, tostring(l)} end
function expire_in(rec, ttl) rec.v = 1 record.set_ttl(rec, ttl) return aerospike:create(rec) end
function fail_after_update(rec) rec.v = 99 aerospike:update(rec) error("changed my mind") end
function remove(rec) return aerospike:remove(rec) end
function spin(rec) while true do end end
function spin_catching(rec) while true do pcall(function() while true do end end) end end
function hog(rec) return #string.rep("x", 2^30) end
function probe(rec)
  return list{type(os.execute), type(io), type(loadstring), type(require), type(dofile),
              type(python), type(sethook), type(string.dump), type(getfenv), type(_G)}
end
"""


@pytest.fixture
def udf(r):
    r.execute_command("AS.UDF", "REGISTER", "counters.lua", COUNTERS)
    yield lambda key, fn, *args: r.execute_command("AS.APPLY", key, "counters", fn, *args)
    r.config_set("udf-time-limit", 1000)


def test_apply_creates_and_updates_one_write_each(r, udf):
    assert udf("test:c:a", "add", "hits", 5) == 5
    assert udf("test:c:a", "add", "hits", 2) == 7
    got = r.execute_command("AS.GET", "test:c:a")
    got = got if isinstance(got, dict) else dict(zip(got[::2], got[1::2], strict=True))
    assert got[b"generation"] == 2  # one write per call
    assert r.hget("test:c:a", "hits") == b"7"  # a hash record, readable by Redis commands
    assert udf("test:c:a", "meta") == [2, -1, b"c", b"a", 20, 1]
    assert udf("test:c:new", "update_only", "x") == -2  # no record to update: nothing written
    assert not r.exists("test:c:new")
    assert udf("test:c:a", "create_only") == 1  # it exists
    assert udf("test:c:a", "remove") == 0
    assert not r.exists("test:c:a")


def test_lists_maps_and_return_values(r, udf):
    resp3 = r.get_connection_kwargs()["protocol"] == 3
    empty_map = {} if resp3 else []
    x_map = {b"x": 1} if resp3 else [b"x", 1]
    assert udf("test:c:s", "shapes") == [1, b"two", x_map, [], empty_map]
    assert udf("test:c:s", "read_back") == [3, 3, b"x", b"List(1, 2, List(3))"]
    assert r.execute_command("AS.LIST", "test:c:s", "l", "GET_RANGE", 0, 3) == [1, 2, [3]]


def test_ttl_and_failed_calls_change_nothing(r, udf):
    assert udf("test:c:t", "expire_in", 100) == 0
    assert 98 <= r.ttl("test:c:t") <= 100
    r.hset("test:c:f", "v", "1")
    with pytest.raises(
        redis.ResponseError, match=r"UDF_BAD_RESPONSE counters.lua:\d+: changed my mind \(100\)"
    ):
        udf("test:c:f", "fail_after_update")
    assert r.hget("test:c:f", "v") == b"1"
    with pytest.raises(redis.ResponseError, match="function nope not found"):
        udf("test:c:f", "nope")
    with pytest.raises(redis.ResponseError, match="module missing is not registered"):
        r.execute_command("AS.APPLY", "test:c:f", "missing", "f")


def test_runaway_udfs_are_stopped_and_the_node_keeps_serving(r, udf):
    r.config_set("udf-time-limit", 100)
    for fn in ("spin", "spin_catching"):
        with pytest.raises(redis.ResponseError, match=r"timed out after 100 ms"):
            udf("test:c:x", fn)
    with pytest.raises(redis.ResponseError, match="memory"):
        udf("test:c:x", "hog")
    assert r.ping()
    assert udf("test:c:x", "add", "n", 1) == 1


def test_the_sandbox_has_no_way_out(udf):
    # (`debug` is Aerospike's log function there, as `info`, `warn` and `trace`)
    assert udf("test:c:p", "probe") == [b"nil"] * 10
