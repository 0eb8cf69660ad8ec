"""redis-py's `Lock` (SET NX PX plus Lua scripts for release, extend and reacquire) against a
respike node and a 3-node cluster (`RedisCluster`): acquire, extend, release, expiry, and
threads contending for one lock around a read-modify-write that would lose updates
without it."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError

from compat.support import tolerate_missing_commands
from respike.process import wait_until


@pytest.fixture(params=["node", "cluster"])
def client(request, app_node):
    """A plain client on one node, or a RedisCluster client on the 3-node cluster."""
    if request.param == "node":
        c = redis.Redis(host=app_node.host, port=app_node.port, socket_timeout=10)
    else:
        cluster = request.getfixturevalue("cluster3")
        seed = cluster.nodes[0]
        c = redis.RedisCluster(host=seed.host, port=seed.port, socket_timeout=10)
    yield c
    c.close()


def test_acquire_extend_release(client):
    with tolerate_missing_commands():
        lock = client.lock("compat:lock:a", timeout=5)
        assert lock.acquire(blocking=False)
        assert lock.locked() and lock.owned()
        # a second holder cannot take it while the first one holds it
        other = client.lock("compat:lock:a", timeout=5)
        assert not other.acquire(blocking=False)
        with pytest.raises(LockError):
            other.release()  # it never acquired
        assert 0 < client.pttl("compat:lock:a") <= 5000
        assert lock.extend(10)  # adds to the remaining time
        assert 5000 < client.pttl("compat:lock:a") <= 15000
        assert lock.extend(2, replace_ttl=True)
        assert 0 < client.pttl("compat:lock:a") <= 2000
        assert lock.reacquire()
        assert 4000 < client.pttl("compat:lock:a") <= 5000
        lock.release()
        assert not lock.locked() and not client.exists("compat:lock:a")
        with pytest.raises(LockError):
            lock.release()  # no token held any more
        assert other.acquire(blocking=False)
        other.release()


def test_context_manager_and_blocking_timeout(client):
    with tolerate_missing_commands():
        with client.lock("compat:lock:b", timeout=10):
            waiter = client.lock("compat:lock:b", blocking_timeout=0.3, sleep=0.05)
            start = time.monotonic()
            assert not waiter.acquire()
            assert time.monotonic() - start >= 0.2  # it gives up a sleep early
        assert waiter.acquire(blocking=False)
        waiter.release()


def test_expired_lock_can_be_taken_and_not_released_by_the_old_owner(client):
    with tolerate_missing_commands():
        old = client.lock("compat:lock:c", timeout=0.3)
        assert old.acquire(blocking=False)
        new = client.lock("compat:lock:c", timeout=10, blocking_timeout=5, sleep=0.02)
        assert new.acquire()  # once the first lease runs out
        assert new.owned() and not old.owned()
        with pytest.raises(LockNotOwnedError):
            old.extend(1)  # the extend script sees another token
        with pytest.raises(LockNotOwnedError):
            old.release()  # and so does the release script
        new.release()


def test_threads_contending(client):
    """Eight threads increment one counter with GET and SET under the lock; without mutual
    exclusion increments are lost and two holders overlap."""
    threads, rounds = 8, 15
    key, counter = "compat:lock:d", "compat:lock:d:counter"
    client.delete(counter)
    holders: list[int] = []
    overlaps: list[int] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def work() -> None:
        try:
            for _ in range(rounds):
                with client.lock(key, timeout=10, blocking_timeout=60, sleep=0.001):
                    with guard:
                        holders.append(1)
                        if len(holders) > 1:
                            overlaps.append(len(holders))
                    value = int(client.get(counter) or 0)
                    time.sleep(0.001)  # widen the window a lost update needs
                    client.set(counter, value + 1)
                    with guard:
                        holders.pop()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with tolerate_missing_commands():
        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(90)
        assert not any(t.is_alive() for t in pool), "a contending thread did not finish"
        if errors:
            raise errors[0]
    assert overlaps == []
    assert int(client.get(counter)) == threads * rounds
    assert not client.exists(key)


def test_lock_survives_script_flush(client):
    """After SCRIPT FLUSH the cached SHA is gone; redis-py's Script falls back to EVAL."""
    with tolerate_missing_commands():
        lock = client.lock("compat:lock:e", timeout=5)
        assert lock.acquire(blocking=False)
        if isinstance(client, redis.RedisCluster):
            for node in client.get_nodes():
                client.get_redis_connection(node).script_flush()
        else:
            client.script_flush()
        assert lock.extend(1)
        lock.release()
        wait_until(lambda: not client.exists("compat:lock:e"), 5, "the lock key to go")


def test_script_load_reaches_every_node(cluster3):
    """redis-py sends SCRIPT LOAD to the nodes it takes for primaries, and takes a respike
    node for a replica when CLUSTER SLOTS lists it first as one: Lock's EVALSHA then found
    no script on a key mastered there. respike loads the script on every member."""
    first, *others = cluster3.nodes
    sha = cluster3.client(first).script_load("return 'compat-' .. ARGV[1]")
    for proc in others:
        assert cluster3.client(proc).script_exists(sha) == [True]
        assert cluster3.client(proc).evalsha(sha, 0, "x") == b"compat-x"
