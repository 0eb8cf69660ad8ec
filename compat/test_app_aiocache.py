"""aiocache's Redis cache (redis-py's asyncio client) against a respike node: get/set with
TTLs, `RedLock` (SET NX PX, released by a Lua compare-and-delete) making concurrent callers
wait for the first one's result, and `OptimisticLock` (a Lua compare-and-set)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiocache import RedisCache
from aiocache.lock import OptimisticLock, OptimisticLockError, RedLock
from aiocache.serializers import JsonSerializer

from compat.support import tolerate_missing_commands


def run(app_node, body) -> None:
    async def main() -> None:
        cache = RedisCache(
            endpoint=app_node.host,
            port=app_node.port,
            namespace=f"compat-{uuid.uuid4().hex[:8]}",
            serializer=JsonSerializer(),
        )
        try:
            await body(cache)
        finally:
            await cache.close()

    with tolerate_missing_commands():
        asyncio.run(asyncio.wait_for(main(), 30))


def test_cache_basics(app_node):
    async def body(cache) -> None:
        assert await cache.set("k", {"a": [1, 2]}, ttl=30)
        assert await cache.get("k") == {"a": [1, 2]}
        assert await cache.exists("k")
        assert await cache.add("new", 1) and not await cache.exists("other")
        with pytest.raises(ValueError):
            await cache.add("new", 2)  # add refuses an existing key (SET NX)
        assert await cache.increment("n", 5) == 5 and await cache.increment("n", -2) == 3
        assert await cache.multi_set([("x", 1), ("y", 2)], ttl=30)
        assert await cache.multi_get(["x", "y", "z"]) == [1, 2, None]
        assert await cache.set("short", 1, ttl=0.2)
        assert await cache.delete("k") == 1 and await cache.get("k") is None
        for _ in range(100):  # a 200 ms TTL runs out on the server
            if await cache.get("short") is None:
                break
            await asyncio.sleep(0.05)
        assert await cache.get("short") is None

    run(app_node, body)


def test_redlock_serialises_callers(app_node):
    """Five concurrent callers of an expensive function: the first one holds the RedLock
    and computes, the others wait for its release and then find the cached value."""
    calls: list[int] = []

    async def body(cache) -> None:
        async def cached_compute(i: int):
            async with RedLock(cache, "answer", lease=5):
                value = await cache.get("answer")
                if value is None:
                    calls.append(i)
                    await asyncio.sleep(0.2)
                    value = {"by": i}
                    await cache.set("answer", value)
                return value

        values = await asyncio.gather(*(cached_compute(i) for i in range(5)))
        assert len(calls) == 1
        assert values == [{"by": calls[0]}] * 5
        key = cache.build_key("answer-lock")
        assert not await cache.raw("exists", key)  # released by the compare-and-delete

    run(app_node, body)


def test_redlock_release_only_by_owner(app_node):
    async def body(cache) -> None:
        lock = RedLock(cache, "res", lease=0.3)
        await lock.__aenter__()
        key = cache.build_key("res-lock")
        assert await cache.raw("exists", key)
        for _ in range(100):  # the lease ends on the server ...
            if not await cache.raw("exists", key):
                break
            await asyncio.sleep(0.02)
        assert await cache.raw("set", key, "someone-else", nx=True)  # ... another holder takes it
        await lock.__aexit__(None, None, None)  # does not remove the other holder's lock
        assert await cache.raw("get", key) == "someone-else"

    run(app_node, body)


def test_optimistic_lock(app_node):
    async def body(cache) -> None:
        await cache.set("doc", {"v": 1})
        async with OptimisticLock(cache, "doc") as lock:
            assert await lock.cas({"v": 2})
        assert await cache.get("doc") == {"v": 2}
        with pytest.raises(OptimisticLockError):
            async with OptimisticLock(cache, "doc") as lock:
                await cache.set("doc", {"v": "changed"})
                await lock.cas({"v": 3})
        assert await cache.get("doc") == {"v": "changed"}
        async with OptimisticLock(cache, "doc") as lock:
            assert await lock.cas({"v": 4}, ttl=30)
        assert 0 < await cache.raw("ttl", cache.build_key("doc")) <= 30

    run(app_node, body)
