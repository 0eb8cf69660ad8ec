"""Record UDF modules (AS.UDF): registered once, kept across restarts and held by every
node of a cluster, including one that joins later (the system-metadata catalog)."""

from __future__ import annotations

import hashlib

import pytest
import redis

from respike.process import NodeProcess, wait_until
from tests.cluster import Cluster

SOURCE = b"function add(rec, bin, n)\n  rec[bin] = (rec[bin] or 0) + n\n  aerospike:update(rec)\n  return rec[bin]\nend\n"


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
    c = Cluster(2).start()
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
    finally:
        c.stop()
